using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace SslCluster.OpenSsl;

/// <summary>
/// Waits until one socket has bytes (or its end, or an error) through Linux epoll, one wait at a time: what a
/// client connection can wait with. The runtime's socket engine gives every socket that ever waited an event-args object,
/// a context with its operation queues, a completion delegate and two receive operations (about 0.8 KiB per socket,
/// kept for the socket's life); this is one small object per socket, armed with one <c>epoll_ctl</c> per wait
/// (<c>EPOLLONESHOT</c>, level-triggered: bytes already there fire at once, so no wake can be lost between a read
/// that found nothing and the wait that follows). The reads and sends themselves stay plain non-blocking calls on the
/// socket. <see cref="For"/> gives null where epoll is not there (not Linux, another architecture): the caller then
/// waits through the runtime's engine. The data path uses it only where the operator chose it (the environment's
/// <c>SSLCLUSTER_SOCKET_WAITS=epoll</c>): it saves memory per idle client but costs CPU on bulk transfers, measured in
/// docs/benchmarks.md ("Client sockets waiting through epoll: tried, kept as a choice").
/// </summary>
/// <remarks>
/// A wait completes on the epoll thread that saw the event, and its continuation runs there, as the runtime's socket
/// engine runs its completions inline under <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c> (which the node sets);
/// a cancelled or disposed wait goes on from the thread pool, as the engine's does.
/// A wait ends only by readiness, by its token, or by <see cref="Dispose"/>: closing the socket alone removes it from
/// epoll without a wake, so the data path cancels its token before it closes a socket (every abort does).
/// </remarks>
public sealed class SocketReadiness : IValueTaskSource, IDisposable
{
    private const int Idle = 0;
    private const int Waiting = 1;

    private readonly SafeHandle _socket;
    private readonly EpollLoop _loop;
    private ManualResetValueTaskSourceCore<bool> _core;
    private CancellationTokenRegistration _registration;
    private int _state;
    private int _disposed;
    // The socket is in this loop's epoll set (the first wait adds it, the next ones re-arm it). Only the waiting side
    // reads and writes it, one wait after the other.
    private bool _added;

    internal SocketReadiness(SafeHandle socket, EpollLoop loop, ulong key)
    {
        _socket = socket;
        _loop = loop;
        Key = key;
    }

    /// <summary>The slot and generation that an epoll event carries for this socket.</summary>
    internal ulong Key { get; }

    /// <summary>True where epoll is there (Linux on x86-64 or arm64): <see cref="For"/> then gives a wait.</summary>
    public static bool Available => EpollLoops.Instance is not null;

    /// <summary>A readiness wait for <paramref name="socket"/>, or null where epoll is not used (see the class).</summary>
    public static SocketReadiness? For(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        return EpollLoops.Instance?.Register(socket.SafeHandle);
    }

    /// <summary>
    /// Completes when the socket has bytes to read, has reached its end or has failed (the read that follows tells which);
    /// cancelled by <paramref name="cancellationToken"/>; fails with <see cref="ObjectDisposedException"/> when this or
    /// the socket was disposed. A failure to arm the wait (a limit of this host) throws <see cref="IOException"/> at once.
    /// </summary>
    public ValueTask WaitReadableAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
        if (Volatile.Read(ref _state) != Idle) throw new InvalidOperationException("A socket waits for readiness once at a time.");

        _core.Reset();
        var version = _core.Version;
        // The registration is in place before the wait begins, so that whoever ends the wait (a late event of an earlier
        // arming among them) removes this one; a token cancelled before the wait began is seen just after.
        _registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static (state, token) => ((SocketReadiness)state!).Cancel(token), this)
            : default;
        Interlocked.Exchange(ref _state, Waiting);
        if (cancellationToken.IsCancellationRequested) Cancel(cancellationToken);
        // A disposal that ran between the check above and the wait's start found no wait to end: it is ended here.
        if (Volatile.Read(ref _disposed) != 0 && TryTake())
        {
            _registration.Dispose();
            throw new ObjectDisposedException(nameof(SocketReadiness));
        }

        int errno;
        bool added = true;
        try
        {
            errno = _loop.Arm(_socket, Key, _added, out added);
        }
        catch (ObjectDisposedException)
        {
            // The socket was closed before it could be armed (an abort cancels, then closes): the wait ends with this,
            // unless its token or an event of an earlier arming ended it first.
            if (!TryTake()) return new ValueTask(this, version);
            _registration.Dispose();
            throw;
        }

        _added = added;
        if (errno != 0 && TryTake())
        {
            // A resource of this host (max_user_watches, memory), not the peer: never reported as the client's doing.
            _registration.Dispose();
            throw new IOException($"epoll_ctl could not arm the socket (errno {errno})");
        }

        return new ValueTask(this, version);
    }

    /// <summary>The epoll thread saw the socket ready: the wait's continuation runs here, on the epoll thread.</summary>
    internal void OnReady()
    {
        if (!TryTake()) return;
        // Dispose, not Unregister: a cancellation callback already running for this wait finishes first, so that it can
        // never end the next wait, which the continuation below may begin at once.
        _registration.Dispose();
        _core.RunContinuationsAsynchronously = false;
        _core.SetResult(true);
    }

    // A cancelled or disposed wait goes on from the thread pool, as the runtime's engine does it: never inside the call
    // that cancelled it (a release under its lock, an abort on an actor's thread, a handshake timeout's own source).
    private void Cancel(CancellationToken token)
    {
        if (!TryTake()) return;
        _core.RunContinuationsAsynchronously = true;
        _core.SetException(new OperationCanceledException(token));
    }

    // The one step that ends a wait: whoever takes it (the event, the token, the disposal) completes it, once.
    private bool TryTake() => Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting;

    /// <summary>Frees the socket's slot; a wait still pending fails with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        EpollLoops.Instance!.Unregister(this);
        if (TryTake())
        {
            _registration.Dispose();
            _core.RunContinuationsAsynchronously = true;
            _core.SetException(new ObjectDisposedException(nameof(SocketReadiness)));
        }
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>
/// The epoll threads and the table that maps an event's key (a slot and its generation) to its <see cref="SocketReadiness"/>.
/// A key never reaches a later socket of the same slot: a late event of a socket already gone is dropped.
/// </summary>
internal sealed class EpollLoops
{
    private readonly EpollLoop[] _loops;
    private readonly Lock _gate = new();
    private readonly Stack<int> _free = new();
    private SocketReadiness?[] _slots = new SocketReadiness?[1024];
    private int _used;
    private uint _generation;
    private int _next;

    private EpollLoops(EpollLoop[] loops) => _loops = loops;

    /// <summary>The process's loops, or null where epoll is not used.</summary>
    public static EpollLoops? Instance { get; } = Create();

    private static EpollLoops? Create()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64)) return null;
        // One loop per core (64 at most), as the runtime's engine has under inline completions: a wait's continuation runs
        // on its loop.
        var count = Math.Clamp(Environment.ProcessorCount, 1, 64);
        var loops = new EpollLoop[count];
        try
        {
            for (var i = 0; i < count; i++) loops[i] = new EpollLoop();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException)
        {
            foreach (var loop in loops) loop?.Dispose();
            return null;
        }

        var instance = new EpollLoops(loops);
        for (var i = 0; i < count; i++) loops[i].Start(instance, i);
        return instance;
    }

    public SocketReadiness Register(SafeHandle socket)
    {
        lock (_gate)
        {
            int slot;
            if (_free.Count > 0) slot = _free.Pop();
            else
            {
                slot = _used++;
                if (slot == _slots.Length)
                {
                    var grown = new SocketReadiness?[_slots.Length * 2];
                    Array.Copy(_slots, grown, _slots.Length);
                    Volatile.Write(ref _slots, grown);
                }
            }

            // Generation 0 is never used, so that a zeroed event can never match.
            if (++_generation == 0) _generation = 1;
            var readiness = new SocketReadiness(socket, _loops[_next++ % _loops.Length], ((ulong)_generation << 32) | (uint)slot);
            Volatile.Write(ref _slots[slot], readiness);
            return readiness;
        }
    }

    public void Unregister(SocketReadiness readiness)
    {
        var slot = (int)(uint)readiness.Key;
        lock (_gate)
        {
            if (ReferenceEquals(_slots[slot], readiness))
            {
                Volatile.Write(ref _slots[slot], null);
                _free.Push(slot);
            }
        }
    }

    /// <summary>An event's key, on an epoll thread.</summary>
    public void Dispatch(ulong key)
    {
        var slots = Volatile.Read(ref _slots);
        var slot = (uint)key;
        if (slot < (uint)slots.Length && Volatile.Read(ref slots[slot]) is { } readiness && readiness.Key == key) readiness.OnReady();
    }
}

/// <summary>One epoll instance and the thread that waits on it.</summary>
internal sealed unsafe partial class EpollLoop : IDisposable
{
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int ENOMEM = 12;
    internal const int EEXIST = 17;
    internal const int ENOSPC = 28;

    private const int EpollCloexec = 0x80000;
    private const int CtlAdd = 1;
    private const int CtlMod = 3;
    private const uint EpollIn = 0x001;
    private const uint EpollErr = 0x008;
    private const uint EpollHup = 0x010;
    private const uint EpollRdHup = 0x2000;
    private const uint EpollOneShot = 1u << 30;
    private const uint Interest = EpollIn | EpollRdHup | EpollErr | EpollHup | EpollOneShot;
    private const int BatchSize = 256;

    // struct epoll_event is packed on x86-64 (12 bytes: the 64-bit data right after the 32-bit events) and naturally
    // aligned elsewhere (16 bytes on arm64).
    private static readonly bool Packed = RuntimeInformation.ProcessArchitecture == Architecture.X64;
    private static readonly int EventSize = Packed ? 12 : 16;
    private static readonly int DataOffset = Packed ? 4 : 8;

    private readonly int _epoll;

    public EpollLoop()
    {
        _epoll = epoll_create1(EpollCloexec);
        if (_epoll < 0) throw new IOException($"epoll_create1 failed (errno {Marshal.GetLastPInvokeError()})");
    }

    public void Start(EpollLoops owner, int index)
    {
        var thread = new Thread(() => Run(owner)) { IsBackground = true, Name = $"sslcluster-epoll-{index}" };
        thread.UnsafeStart();
    }

    /// <summary>
    /// Arms the socket for one readiness event: 0, or the errno of <c>epoll_ctl</c>. The socket's handle is held for
    /// the call, so its descriptor cannot be closed and given to another socket meanwhile; a closed socket throws
    /// <see cref="ObjectDisposedException"/>.
    /// </summary>
    public int Arm(SafeHandle socket, ulong key, bool added, out bool nowAdded)
    {
        var held = false;
        try
        {
            socket.DangerousAddRef(ref held);
            var fd = (int)socket.DangerousGetHandle();
            var ev = stackalloc byte[16];
            *(uint*)ev = Interest;
            *(ulong*)(ev + DataOffset) = key;
            var op = added ? CtlMod : CtlAdd;
            for (var attempt = 0; attempt < 2; attempt++)
            {
                if (epoll_ctl(_epoll, op, fd, ev) == 0)
                {
                    nowAdded = true;
                    return 0;
                }

                var errno = Marshal.GetLastPInvokeError();
                // Added already by an earlier wait object of the same socket, or removed by a close of the descriptor
                // this socket no longer holds: the other operation says it.
                if (errno == EEXIST && op == CtlAdd) op = CtlMod;
                else if (errno == ENOENT && op == CtlMod) op = CtlAdd;
                else
                {
                    nowAdded = added;
                    return errno;
                }
            }

            nowAdded = added;
            return ENOENT;
        }
        finally
        {
            if (held) socket.DangerousRelease();
        }
    }

    private void Run(EpollLoops owner)
    {
        var events = (byte*)NativeMemory.Alloc((nuint)(BatchSize * EventSize));
        while (true)
        {
            var n = epoll_wait(_epoll, events, BatchSize, -1);
            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                // Only a defect gets here (a bad descriptor or buffer), and no wait of this loop could end again.
                Environment.FailFast($"epoll_wait failed (errno {errno})");
            }

            for (var i = 0; i < n; i++)
            {
                owner.Dispatch(*(ulong*)(events + (i * EventSize) + DataOffset));
            }
        }
    }

    public void Dispose()
    {
        if (_epoll >= 0) _ = close(_epoll);
    }

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, int fd, void* ev);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int epoll_wait(int epfd, void* events, int maxevents, int timeout);

    [LibraryImport("libc.so.6")]
    private static partial int close(int fd);
}
