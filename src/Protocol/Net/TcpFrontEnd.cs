using System.Net.Sockets;

namespace SslCluster.Protocol.Net;

/// <summary>A clear-text socket as one side of a relay: the client, or a plain back end.</summary>
internal sealed class TcpFrontEnd(Socket socket, RelaySide side = RelaySide.Client) : IRelayFrontEnd
{
    private bool _closedWrite;
    private bool _inputEnded;
    private long _received;
    private long _sent;

    public int MaxWriteChunk => SocketIo.BufferSize;

    public bool CanWrite => !_closedWrite;

    // Written by the client-to-backend loop, read by the other one.
    public bool InputEnded
    {
        get => Volatile.Read(ref _inputEnded);
        private set => Volatile.Write(ref _inputEnded, value);
    }

    // Bytes waiting in the kernel are seen by the pool's poll of the socket.
    public bool HasPendingInput => InputEnded;

    public long BytesReceived => Interlocked.Read(ref _received);

    public long BytesSent => Interlocked.Read(ref _sent);

    public async ValueTask WaitReadableAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SocketIo.WaitReadableAsync(socket, cancellationToken);
        }
        catch (SocketException e)
        {
            throw new RelayException(side.Reset(), side.Name() + " receive failed: " + SocketIo.Describe(e), e);
        }
    }

    public async ValueTask<FrontEndRead> ReadAsync(byte[] buffer, int maxCount, CancellationToken cancellationToken)
    {
        int n;
        try
        {
            n = await socket.ReceiveAsync(buffer.AsMemory(0, Math.Min(maxCount, SocketIo.BufferSize)), SocketFlags.None,
                cancellationToken);
        }
        catch (SocketException e)
        {
            throw new RelayException(side.Reset(), side.Name() + " receive failed: " + SocketIo.Describe(e), e);
        }

        if (n == 0)
        {
            InputEnded = true;
            return FrontEndRead.Ended;
        }

        Interlocked.Add(ref _received, n);
        return new FrontEndRead(n, false);
    }

    public async ValueTask<bool> WriteAsync(byte[] buffer, int count, CancellationToken cancellationToken)
    {
        if (_closedWrite)
        {
            return false;
        }

        try
        {
            await SocketIo.SendAllAsync(socket, buffer.AsMemory(0, count), cancellationToken);
        }
        catch (SocketException e)
        {
            throw new RelayException(side.Reset(), side.Name() + " send failed: " + SocketIo.Describe(e), e);
        }

        Interlocked.Add(ref _sent, count);
        return true;
    }

    public ValueTask CloseWriteAsync(CancellationToken cancellationToken)
    {
        if (!_closedWrite)
        {
            _closedWrite = true;
            SocketIo.ShutdownSendQuietly(socket);
        }

        return ValueTask.CompletedTask;
    }
}
