using System.Net;
using System.Net.Sockets;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>What the two kinds of socket waits share in their tests: loopback pairs, and the rule for a cancelled wait.</summary>
internal static class ReadinessWaits
{
    [ThreadStatic]
    private static bool t_insideCancel;

    /// <summary>
    /// A wait its token ends goes on outside the call that cancelled it: a release cancels under its lock, an abort on an
    /// actor's thread, and the waiting code must not run inside those calls.
    /// </summary>
    public static async Task AssertCancelledWaitGoesOnOutsideTheCancelAsync(Func<CancellationToken, ValueTask> waitReadable)
    {
        using var cts = new CancellationTokenSource();
        bool? wentOnInside = null;
        async Task WaitAsync()
        {
            try
            {
                await waitReadable(cts.Token);
            }
            catch (OperationCanceledException)
            {
                wentOnInside = t_insideCancel;
            }
        }

        var waiting = WaitAsync();
        t_insideCancel = true;
        try
        {
            // Cancel, not CancelAsync: the token's callbacks run in this call, on this thread.
#pragma warning disable CA1849
            cts.Cancel();
#pragma warning restore CA1849
        }
        finally
        {
            t_insideCancel = false;
        }

        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(wentOnInside);
    }

    public static Socket Listen()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(512);
        return listener;
    }

    public static async Task<(Socket Server, Socket Client)> PairAsync()
    {
        using var listener = Listen();
        return await PairAsync(listener);
    }

    /// <summary>A connected pair on loopback whose server end is non-blocking, as the data path has its sockets.</summary>
    public static async Task<(Socket Server, Socket Client)> PairAsync(Socket listener)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await accept;
        server.Blocking = false;
        return (server, client);
    }

    public static async Task WaitForBytesAsync(Socket socket)
    {
        for (var i = 0; i < 500 && socket.Available == 0; i++) await Task.Delay(10);
    }
}
