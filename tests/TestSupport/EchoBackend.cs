using System.Net.Sockets;

namespace SslCluster.TestSupport;

/// <summary>
/// Echoes every byte back until the peer half-closes, then half-closes too (so a proxy's half-close can be seen
/// end to end) and records that it saw EOF. With <see cref="EchoBackend.Source"/> it instead sends a fixed number
/// of bytes as soon as a connection arrives and then closes; with <see cref="EchoBackend.WithBanner"/> it speaks first, as
/// an SMTP, IMAP or POP3 server does, then echoes.
/// </summary>
public sealed class EchoBackend : LoopbackServer
{
    private readonly long _sourceBytes;
    private readonly bool _replyAfterEof;
    private readonly byte[] _banner;
    private int _eofs;

    private EchoBackend(long sourceBytes, bool replyAfterEof = false, byte[]? banner = null)
    {
        _sourceBytes = sourceBytes;
        _replyAfterEof = replyAfterEof;
        _banner = banner ?? [];
    }

    /// <summary>An echo server.</summary>
    public EchoBackend()
        : this(-1)
    {
    }

    /// <summary>
    /// A server that reads everything until the peer half-closes and only then sends it all back and closes: an
    /// answer that can only arrive through a proxy that honours half-close.
    /// </summary>
    public static EchoBackend ReplyAfterEof() => new(-1, replyAfterEof: true);

    /// <summary>An echo server that first sends <paramref name="banner"/> on every connection, before reading anything.</summary>
    public static EchoBackend WithBanner(byte[] banner) => new(-1, banner: banner);

    /// <summary>A server that sends <paramref name="bytes"/> bytes (a repeating pattern) then closes.</summary>
    public static EchoBackend Source(long bytes) => new(bytes);

    /// <summary>How many connections ended with an EOF from the peer.</summary>
    public int EofsSeen => Volatile.Read(ref _eofs);

    /// <summary>Completes when the next EOF is seen (for tests waiting for a half-close to propagate).</summary>
    public async Task<bool> WaitForEofsAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (EofsSeen < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(10);
        }

        return true;
    }

    protected override async Task HandleAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        if (_sourceBytes >= 0)
        {
            for (int i = 0; i < buffer.Length; i++)
            {
                buffer[i] = (byte)i;
            }

            long left = _sourceBytes;
            while (left > 0)
            {
                int n = (int)Math.Min(left, buffer.Length);
                await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, cancellationToken);
                left -= n;
            }

            socket.Shutdown(SocketShutdown.Send);

            // Wait for the peer to close so the FIN is not turned into a reset by unread input.
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken) > 0)
            {
            }

            return;
        }

        if (_replyAfterEof)
        {
            var all = new MemoryStream();
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken)) > 0)
            {
                all.Write(buffer, 0, read);
            }

            Interlocked.Increment(ref _eofs);
            await socket.SendAsync(all.ToArray(), SocketFlags.None, cancellationToken);
            socket.Shutdown(SocketShutdown.Send);
            return;
        }

        if (_banner.Length > 0) await socket.SendAsync(_banner, SocketFlags.None, cancellationToken);
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                Interlocked.Increment(ref _eofs);
                socket.Shutdown(SocketShutdown.Send);
                return;
            }

            int sent = 0;
            while (sent < n)
            {
                sent += await socket.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, cancellationToken);
            }
        }
    }
}
