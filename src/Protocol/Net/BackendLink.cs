using System.Net.Sockets;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Net;

/// <summary>
/// Lifecycle of the back-end leg of a flow: the service's connection gauge and, for TLS legs, the counters of its
/// backend-server row in <c>show ssl flows</c>.
/// </summary>
public interface IBackendFlowObserver
{
    /// <summary>The TCP connection to the server is up (and a TLS handshake starts, for a TLS leg).</summary>
    void Started();

    /// <summary>A TLS leg completed its handshake.</summary>
    void HandshakeCompleted(BackendHandshakeInfo handshake);

    /// <summary>The flow ended; <paramref name="handshakeDone"/> says whether the back-end handshake had completed.</summary>
    void Ended(bool handshakeDone);

    /// <summary>
    /// The connection waits idle in the http-reuse pool (<paramref name="idle"/> true) or serves a client again (false):
    /// it counts as a connection of its server only while it serves one.
    /// </summary>
    void Idle(bool idle)
    {
    }
}

/// <summary>
/// What a dial produced: the connected socket and, for a re-encrypted or initiated flow, the TLS client policy to
/// run over it (created per connection from the backend-server's profile) and who counts it.
/// </summary>
public sealed record BackendLink(Socket Socket, BackendTlsClient? Tls = null, IBackendFlowObserver? Flow = null,
    TimeSpan? HandshakeTimeout = null)
{
    /// <summary>Closes the flow after this long without a byte in either direction (the ssl-server's idle timeout); zero: never.</summary>
    public TimeSpan IdleTimeout { get; init; }

    /// <summary>
    /// Under http-reuse, the pool key of the server this connection reached (the dial may have gone to another server
    /// than the one chosen first, when that one refused).
    /// </summary>
    public object? ReuseKey { get; init; }
}

/// <summary>The TLS handshake towards a real server, with a timeout and failures named by phase.</summary>
internal static class BackendTlsHandshake
{
    public static async Task<(IRelayFrontEnd? Side, ProxyError Error, string Message)> RunAsync(Socket socket,
        BackendTlsClient client, TimeSpan timeout, CancellationToken lifetime)
    {
        OpenSsl.SslConnection connection;
        try
        {
            connection = client.Connect();
        }
        catch (Exception e) when (e is OpenSsl.OpenSslException or ArgumentException)
        {
            // A client certificate or suite list OpenSSL cannot use: this backend-server's TLS cannot start.
            return (null, ProxyError.BackendHandshakeFailed, "backend TLS client could not be set up: " + e.Message);
        }

        var side = new TlsSocketSide(socket, connection, requireCloseNotify: false, RelaySide.Backend);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        cts.CancelAfter(timeout);
        (ProxyError, string) failure;
        try
        {
            var status = await side.HandshakeAsync(cts.Token);
            var ssl = side.Connection;
            client.Completed(ssl, status == OpenSsl.SslStatus.Ok);
            if (status == OpenSsl.SslStatus.Ok && client.RequiredProtocol is { } required && ssl.ApplicationProtocol != required)
            {
                side.Dispose();
                return (null, ProxyError.BackendHandshakeFailed,
                    $"backend did not agree on {required} by ALPN (it chose {ssl.ApplicationProtocol ?? "none"}), which the client speaks");
            }

            if (status == OpenSsl.SslStatus.Ok)
            {
                return (side, ProxyError.None, "");
            }

            failure = status is null
                ? (ProxyError.BackendHandshakeFailed, $"backend closed the connection during the TLS handshake after {side.BytesReceived} bytes")
                : client.CertificateProblem is { } problem
                    ? (ProxyError.BackendCertificateRejected, $"backend certificate refused, sent fatal alert {TlsSocketSide.AlertName(ssl.AlertSent)}: {problem}")
                    : ssl.AlertReceived >= 0
                        ? (ProxyError.BackendHandshakeFailed, $"backend sent fatal alert {TlsSocketSide.AlertName(ssl.AlertReceived)} during the TLS handshake")
                        : (ProxyError.BackendHandshakeFailed, "backend TLS handshake failed" +
                            (ssl.AlertSent >= 0 ? ", sent fatal alert " + TlsSocketSide.AlertName(ssl.AlertSent) : "") + ": " + ssl.Error);
        }
        catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
        {
            failure = (ProxyError.Aborted, "aborted during the backend TLS handshake");
        }
        catch (OperationCanceledException)
        {
            failure = (ProxyError.BackendHandshakeTimeout, $"backend did not complete the TLS handshake within {timeout.TotalSeconds:0.###} s");
        }
        catch (SocketException e)
        {
            failure = (ProxyError.BackendHandshakeFailed, "backend connection failed during the TLS handshake: " + SocketIo.Describe(e));
        }
        catch (ObjectDisposedException) when (lifetime.IsCancellationRequested)
        {
            // An abort closed the socket under the handshake: the SSL is still freed here, not by its finalizer.
            failure = (ProxyError.Aborted, "aborted during the backend TLS handshake");
        }

        side.Dispose();
        return (null, failure.Item1, failure.Item2);
    }
}
