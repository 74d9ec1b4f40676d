using System.Net.Sockets;

namespace SslCluster.Protocol.Net;

/// <summary>Dials the destination with a timeout and classifies failures.</summary>
internal static class BackendDialer
{
    public static async Task<(Socket? Socket, ProxyError Error, string Message)> DialAsync(
        Func<CancellationToken, ValueTask<Socket>> dial, TimeSpan timeout, CancellationToken lifetime)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        cts.CancelAfter(timeout);
        Task<Socket> task;
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
            var socket = await task.WaitAsync(cts.Token);
            socket.NoDelay = true;
            return (socket, ProxyError.None, "");
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

    private static void DisposeLate(Task<Socket> task) =>
        _ = task.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully)
            {
                t.Result.Dispose();
            }
            else
            {
                _ = t.Exception;
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
