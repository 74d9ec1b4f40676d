using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace SslCluster.TestSupport;

/// <summary>
/// A real HTTP/2 server (Kestrel) in clear text with prior knowledge, on loopback, as a back end that an ssl-server with
/// <c>alpn h2</c> passes its clients' HTTP/2 to. Every request is answered 200 with <c>PATH on connection N</c>;
/// <c>/slow?ms=M</c> sends the first half of its body, waits M milliseconds, then sends the rest (a stream a drain
/// must let finish). Counts the connections it accepted and those that ended.
/// </summary>
public sealed class Http2Backend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _opened;
    private int _closed;

    private Http2Backend(WebApplication app) => _app = app;

    public int Port { get; private set; }

    /// <summary>Connections accepted so far.</summary>
    public int Opened => Volatile.Read(ref _opened);

    /// <summary>Connections that ended (the proxy closed them, or they failed).</summary>
    public int Closed => Volatile.Read(ref _closed);

    public static async Task<Http2Backend> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        Http2Backend? backend = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.Http2.MaxStreamsPerConnection = 1000;
            // Behind TLS offload the requests say :scheme https on a clear-text connection, which Kestrel refuses
            // (PROTOCOL_ERROR) unless told to take it.
            k.AllowAlternateSchemes = true;
            k.Listen(IPAddress.Loopback, 0, l =>
            {
                l.Protocols = HttpProtocols.Http2;
                l.Use(next => async connection =>
                {
                    Interlocked.Increment(ref backend!._opened);
                    try
                    {
                        await next(connection);
                    }
                    finally
                    {
                        Interlocked.Increment(ref backend!._closed);
                    }
                });
            });
        });
        var app = builder.Build();
        backend = new Http2Backend(app);
        app.Run(async context =>
        {
            var body = $"{context.Request.Path} on connection {context.Connection.Id}\n";
            context.Response.ContentType = "text/plain";
            if (context.Request.Path == "/slow" && int.TryParse(context.Request.Query["ms"], out var ms))
            {
                var half = body.Length / 2;
                await context.Response.WriteAsync(body[..half], context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(ms, context.RequestAborted);
                await context.Response.WriteAsync(body[half..], context.RequestAborted);
                return;
            }
            await context.Response.WriteAsync(body, context.RequestAborted);
        });
        await app.StartAsync();
        backend.Port = new Uri(app.Urls.First()).Port;
        return backend;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
