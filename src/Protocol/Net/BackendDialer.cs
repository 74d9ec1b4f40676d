using System.Net.Sockets;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Net;

/// <summary>Dials the destination with a timeout and classifies failures.</summary>
internal static class BackendDialer
{
    /// <summary>
    /// Dials, then (for a re-encrypted or initiated flow) runs the TLS handshake with the real server. The leg owns
    /// the socket; null with the reason when either step failed.
    /// </summary>
    public static async Task<(BackendLeg? Leg, ProxyError Error, string Message)> ConnectAsync(
        Func<CancellationToken, ValueTask<BackendLink>> dial, ProxyConnectionOptions options, CancellationToken lifetime)
    {
        var (link, error, message) = await DialAsync(dial, options.BackendConnectTimeout, lifetime);
        if (link is null)
        {
            return (null, error, message);
        }

        link.Flow?.Started();
        if (link.Tls is null)
        {
            return (new BackendLeg(link, new TcpFrontEnd(link.Socket, RelaySide.Backend)), ProxyError.None, "");
        }

        var (side, tlsError, tlsMessage) = await BackendTlsHandshake.RunAsync(link.Socket, link.Tls,
            link.HandshakeTimeout ?? options.HandshakeTimeout, lifetime);
        if (side is null)
        {
            link.Flow?.Ended(false);
            link.Socket.Dispose();
            return (null, tlsError, tlsMessage);
        }

        var handshake = link.Tls.Handshake!;
        link.Flow?.HandshakeCompleted(handshake);
        return (new BackendLeg(link, side) { Handshake = handshake }, ProxyError.None, "");
    }

    public static async Task<(BackendLink? Link, ProxyError Error, string Message)> DialAsync(
        Func<CancellationToken, ValueTask<BackendLink>> dial, TimeSpan timeout, CancellationToken lifetime)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        cts.CancelAfter(timeout);
        Task<BackendLink> task;
        try
        {
            task = dial(cts.Token).AsTask();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return (null, ProxyError.BackendConnectFailed, "backend dial failed: " + e.Message);
        }

        try
        {
            // WaitAsync: a dial delegate that ignores its token still cannot hold the connection past the timeout.
            var link = await task.WaitAsync(cts.Token);
            link.Socket.NoDelay = true;
            return (link, ProxyError.None, "");
        }
        catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
        {
            DisposeLate(task);
            return (null, ProxyError.Aborted, "aborted while connecting to the backend");
        }
        catch (OperationCanceledException)
        {
            DisposeLate(task);
            return (null, ProxyError.BackendConnectTimeout,
                $"backend did not accept within {timeout.TotalSeconds:0.###} s");
        }
        catch (SocketException e)
        {
            return (null, ProxyError.BackendConnectFailed, "backend connect failed: " + SocketIo.Describe(e));
        }
        catch (Exception e)
        {
            // The dial delegate is the caller's code (service selection, address mapping): any failure of it means
            // no backend for this connection, not a proxy defect.
            return (null, ProxyError.BackendConnectFailed, "backend dial failed: " + e.Message);
        }
    }

    private static void DisposeLate(Task<BackendLink> task) =>
        _ = task.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully)
            {
                t.Result.Socket.Dispose();
            }
            else
            {
                _ = t.Exception;
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}

/// <summary>
/// The back end of one flow once connected: its socket, its clear-text side for the relay (plain, or TLS after the
/// handshake) and its counters, released once however the flow ends (normal end, abort from another thread).
/// </summary>
internal sealed class BackendLeg(BackendLink link, IRelayFrontEnd side) : IDisposable
{
    private int _disposed;

    public BackendLink Link { get; } = link;

    public IRelayFrontEnd Side { get; } = side;

    public BackendHandshakeInfo? Handshake { get; init; }

    /// <summary>Waits in the http-reuse pool (true) or serves a client (false).</summary>
    public void SetIdle(bool idle) => Link.Flow?.Idle(idle);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // The side first: it readies the socket's close (EngineReadiness.BeforeClose).
        (Side as IDisposable)?.Dispose();
        Link.Socket.Dispose();
        Link.Flow?.Ended(Handshake is not null);
    }
}
