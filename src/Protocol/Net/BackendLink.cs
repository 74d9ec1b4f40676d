using System.Net.Sockets;
using Org.BouncyCastle.Tls;
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
}

/// <summary>
/// What a dial produced: the connected socket and, for a re-encrypted or initiated flow, the TLS client policy to
/// run over it (created per connection from the backend-server's profile) and who counts it.
/// </summary>
public sealed record BackendLink(Socket Socket, IBackendTlsClient? Tls = null, IBackendFlowObserver? Flow = null,
    TimeSpan? HandshakeTimeout = null)
{
    /// <summary>Closes the flow after this long without a byte in either direction (the ssl-server's idle timeout); zero: never.</summary>
    public TimeSpan IdleTimeout { get; init; }
}

/// <summary>The TLS handshake towards a real server, with a timeout and failures named by phase.</summary>
internal static class BackendTlsHandshake
{
    private static readonly TimeSpan AlertFlushTimeout = TimeSpan.FromSeconds(1);

    public static async Task<(IRelayFrontEnd? Side, ProxyError Error, string Message)> RunAsync(Socket socket,
        IBackendTlsClient tls, TimeSpan timeout, CancellationToken lifetime)
    {
        if (tls is OpenSslBackendClient openSsl)
        {
            return await RunOpenSslAsync(socket, openSsl, timeout, lifetime);
        }

        var client = (OffloadTlsClient)tls;
        var side = new TlsFrontEnd(socket, client);
        var (error, message) = await StepAsync(side, client, timeout, lifetime);
        if (error == ProxyError.None)
        {
            return (side, error, message);
        }

        side.Dispose();
        return (null, error, message);
    }

    private static async Task<(IRelayFrontEnd? Side, ProxyError Error, string Message)> RunOpenSslAsync(Socket socket,
        OpenSslBackendClient client, TimeSpan timeout, CancellationToken lifetime)
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

        var side = new OpenSslFrontEnd(socket, connection, requireCloseNotify: false, RelaySide.Backend);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        cts.CancelAfter(timeout);
        (ProxyError, string) failure;
        try
        {
            var status = await side.HandshakeAsync(cts.Token);
            var ssl = side.Connection;
            client.Completed(ssl, status == OpenSsl.SslStatus.Ok);
            if (status == OpenSsl.SslStatus.Ok)
            {
                return (side, ProxyError.None, "");
            }

            failure = status is null
                ? (ProxyError.BackendHandshakeFailed, $"backend closed the connection during the TLS handshake after {side.BytesReceived} bytes")
                : client.CertificateProblem is { } problem
                    ? (ProxyError.BackendCertificateRejected, $"backend certificate refused, sent fatal alert {OpenSslFrontEnd.AlertName(ssl.AlertSent)}: {problem}")
                    : ssl.AlertReceived >= 0
                        ? (ProxyError.BackendHandshakeFailed, $"backend sent fatal alert {OpenSslFrontEnd.AlertName(ssl.AlertReceived)} during the TLS handshake")
                        : (ProxyError.BackendHandshakeFailed, "backend TLS handshake failed" +
                            (ssl.AlertSent >= 0 ? ", sent fatal alert " + OpenSslFrontEnd.AlertName(ssl.AlertSent) : "") + ": " + ssl.Error);
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

        side.Dispose();
        return (null, failure.Item1, failure.Item2);
    }

    private static async Task<(ProxyError, string)> StepAsync(TlsFrontEnd side, OffloadTlsClient client, TimeSpan timeout,
        CancellationToken lifetime)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        cts.CancelAfter(timeout);
        try
        {
            while (client.Handshake is null)
            {
                if (!await side.HandshakeStepAsync(cts.Token))
                {
                    return (ProxyError.BackendHandshakeFailed,
                        $"backend closed the connection during the TLS handshake after {side.BytesReceived} bytes");
                }
            }

            return (ProxyError.None, "");
        }
        catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
        {
            return (ProxyError.Aborted, "aborted during the backend TLS handshake");
        }
        catch (OperationCanceledException)
        {
            return (ProxyError.BackendHandshakeTimeout,
                $"backend did not complete the TLS handshake within {timeout.TotalSeconds:0.###} s");
        }
        catch (TlsFatalAlertReceived e)
        {
            return (ProxyError.BackendHandshakeFailed,
                "backend sent fatal alert " + AlertDescription.GetText(e.AlertDescription) + " during the TLS handshake");
        }
        catch (TlsFatalAlert e)
        {
            await side.FlushQuietlyAsync(AlertFlushTimeout);
            return client.CertificateProblem is { } problem
                ? (ProxyError.BackendCertificateRejected, "backend certificate refused, sent fatal alert " + AlertDescription.GetText(e.AlertDescription) + ": " + problem)
                : (ProxyError.BackendHandshakeFailed, "backend TLS handshake failed, sent fatal alert " + AlertDescription.GetText(e.AlertDescription) +
                    (string.IsNullOrEmpty(e.Message) ? "" : ": " + e.Message));
        }
        catch (SocketException e)
        {
            return (ProxyError.BackendHandshakeFailed, "backend connection failed during the TLS handshake: " + SocketIo.Describe(e));
        }
#pragma warning disable CA1031 // Anything BouncyCastle throws on the server's bytes is a failed back-end handshake.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return (ProxyError.BackendHandshakeFailed, "backend TLS handshake failed: " + e.Message);
        }
    }
}
