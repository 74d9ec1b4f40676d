using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace SslCluster.Protocol.Net;

/// <summary>Socket helpers shared by the TLS and plain relays.</summary>
internal static class SocketIo
{
    /// <summary>Size of every pooled buffer: one TLS record's worth (2^14), an exact ArrayPool bucket.</summary>
    public const int BufferSize = 16 * 1024;

    public static byte[] Rent() => ArrayPool<byte>.Shared.Rent(BufferSize);

    public static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);

    /// <summary>
    /// Bytes wait in the socket's receive queue. A socket that fails to say (reset, closed) counts as having some, so that
    /// the read that follows reports how it failed.
    /// </summary>
    public static bool HasBytes(Socket socket)
    {
        try
        {
            return socket.Available > 0;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>
    /// A non-blocking socket has nothing to read and has not reached its end: a readiness reported for it was stale
    /// (one peek, no byte taken). A socket that fails or is closed has something to say: false.
    /// </summary>
    public static bool NothingYet(Socket socket)
    {
        Span<byte> one = stackalloc byte[1];
        try
        {
            socket.Receive(one, SocketFlags.Peek, out var error);
            return error == SocketError.WouldBlock;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Makes the socket non-blocking, so that <see cref="ReceiveNow"/> and <see cref="SendNow"/> may be tried on it (its
    /// async calls are the same either way); false when an abort has closed it already.
    /// </summary>
    public static bool TryMakeNonBlocking(Socket socket)
    {
        try
        {
            socket.Blocking = false;
            return true;
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// What a non-blocking socket holds now, without the socket engine's async receive (one recvfrom, no queue, no
    /// event-args): the count read, 0 at EOF, or -1 when nothing is there yet (a readiness that went stale, or a guess
    /// that more was waiting). A failure throws.
    /// </summary>
    public static int ReceiveNow(Socket socket, Span<byte> buffer)
    {
        int n = socket.Receive(buffer, SocketFlags.None, out var error);
        return error switch
        {
            SocketError.Success => n,
            SocketError.WouldBlock => -1,
            _ => throw new SocketException((int)error),
        };
    }

    /// <summary>
    /// Receives into <paramref name="buffer"/> right after a wait found the socket readable (or a read filled its
    /// buffer): what is there is read at once with <see cref="ReceiveNow"/>, never waiting on a non-blocking socket: -1
    /// when nothing was there after all (the wait's readiness was stale, or the guess wrong), so that the caller waits
    /// again where it waits. A socket an abort closed before it could be made non-blocking goes through the socket
    /// engine's receive, which reports its end. 0 at EOF.
    /// </summary>
    public static ValueTask<int> ReceiveOrNothingAsync(Socket socket, bool nonBlocking, Memory<byte> buffer, CancellationToken cancellationToken) =>
        nonBlocking ? new ValueTask<int>(ReceiveNow(socket, buffer.Span)) : socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    /// <summary>A send that never waits, on a non-blocking socket: the bytes the socket took now (0 when its buffer is full); a failure throws.</summary>
    public static int SendNow(Socket socket, ReadOnlySpan<byte> data)
    {
        int sent = socket.Send(data, SocketFlags.None, out var error);
        return error switch
        {
            SocketError.Success => sent,
            SocketError.WouldBlock => 0,
            _ => throw new SocketException((int)error),
        };
    }

    /// <summary>Sends everything (a stream socket may accept less than asked).</summary>
    public static ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        // Almost every send is taken whole at once (loopback, a socket buffer with room): then no state machine runs.
        var send = socket.SendAsync(data, SocketFlags.None, cancellationToken);
        if (!send.IsCompletedSuccessfully) return SendRestAsync(socket, data, send, cancellationToken);
        int sent = send.Result;
        return sent == data.Length ? ValueTask.CompletedTask : SendRestAsync(socket, data, new ValueTask<int>(sent), cancellationToken);
    }

    /// <summary>Goes on from a first send still running or taken in part (<paramref name="first"/> counts it).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask SendRestAsync(Socket socket, ReadOnlyMemory<byte> data, ValueTask<int> first,
        CancellationToken cancellationToken)
    {
        data = data[await first..];
        while (!data.IsEmpty)
        {
            int sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken);
            data = data[sent..];
        }
    }

    /// <summary>Half-closes the sending side; a socket already gone needs no FIN.</summary>
    public static void ShutdownSendQuietly(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The peer already reset or closed: nothing left to signal.
        }
        catch (ObjectDisposedException)
        {
            // Aborted concurrently.
        }
    }

    /// <summary>
    /// Makes the socket's close a reset (RST, no FIN): for a client whose back end's TLS stream failed mid-answer, so
    /// that a response cut short can never pass for a complete one (an HTTP/1.0 body ends at the close).
    /// </summary>
    public static void ResetOnClose(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone: nothing will be sent either way.
        }
    }

    /// <summary>
    /// An abort's sockets (a kill, a drain's deadline) close with a reset, never a FIN: an answer cut there must not pass
    /// for a complete one (an HTTP/1.0 body ends at the close). Asked before the abort cancels anything, since that ends
    /// the running waits and the flow's own end may close the sockets first (EngineReadiness.BeforeClose leaves a socket
    /// that asked for a reset alone).
    /// </summary>
    public static void ResetOnAbort(Socket client, BackendLeg? backend)
    {
        ResetOnClose(client);
        if (backend is not null) ResetOnClose(backend.Link.Socket);
    }

    public static string Describe(SocketException e) => $"{e.SocketErrorCode} ({e.Message})";
}
