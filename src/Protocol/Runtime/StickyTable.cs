using System.Net.Sockets;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Runtime;

/// <summary>
/// The reference's two stickiness modes for rules with several SSL modules: by SSL session ID (a client that resumes
/// goes back to the module that made its session) and by source IP (a client's connections go to one module; note
/// the reference's mega-proxy caveat). Bounded (least recently used entries go first) and expiring after an idle
/// time, so neither a flood of fresh session IDs nor of source addresses can grow it. Thread-safe.
/// </summary>
public sealed class StickyTable
{
    public const int DefaultCapacity = 65_536;

    private readonly BoundedLruCache<string, Entry> _entries;
    private readonly TimeProvider _time;
    private readonly TimeSpan _idle;

    public StickyTable(TimeProvider time, TimeSpan idle, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _idle = idle;
        _entries = new BoundedLruCache<string, Entry>(capacity);
    }

    public int Count => _entries.Count;

    /// <summary>The module this key stuck to, when the entry has not been idle too long.</summary>
    public string? Get(string key)
    {
        if (!_entries.TryGet(key, out var e) || _time.GetUtcNow() - e.Seen > _idle) return null;
        _entries.Set(key, e with { Seen = _time.GetUtcNow() });
        return e.Module;
    }

    public void Set(string key, string module) => _entries.Set(key, new Entry(module, _time.GetUtcNow()));

    private sealed record Entry(string Module, DateTimeOffset Seen);

    /// <summary>
    /// Reads the session ID of a client's ClientHello without consuming it (MSG_PEEK), within <paramref name="timeout"/>.
    /// Null when the hello carries none, is not a ClientHello, or does not arrive in time: the flow is then balanced.
    /// </summary>
    public static async Task<string?> PeekSessionIdAsync(Socket socket, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(socket);
        using var cts = new CancellationTokenSource(timeout);
        // Pooled like every other buffer on the accept path: a sticky listener peeks on each new connection.
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        var last = -1;
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.Peek, cts.Token);
                if (n == 0 || n == last && n == buffer.Length) return null;
                switch (ClientHelloParser.TryParse(buffer.AsSpan(0, n), out var hello))
                {
                    case ClientHelloParseStatus.Ok:
                        return hello!.SessionId.IsEmpty ? null : Convert.ToHexString(hello.SessionId.Span);
                    case ClientHelloParseStatus.Incomplete:
                        last = n;
                        // Peeking returns at once while the bytes already queued stay queued: wait for more to arrive.
                        await Task.Delay(5, cts.Token);
                        continue;
                    default:
                        return null;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
