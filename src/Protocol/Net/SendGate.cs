namespace SslCluster.Protocol.Net;

/// <summary>
/// An async lock for a connection's sends (<see cref="TlsSocketSide"/>: one flush at a time takes the engine's output
/// and sends it), whose monitor the side also uses for its SSL calls. A SemaphoreSlim (with the lock object it makes)
/// and a Lock were 124 bytes per connection, kept as long as it is open; this is one small object, and a flush pays for
/// a task only when another one is sending. Waiters enter in order. A side has two loops that flush, so there is rarely
/// more than one waiter: it is kept in a field, and a queue is made only for more and dropped once they are gone, so
/// that a connection busy once and idle since keeps nothing of it.
/// </summary>
internal sealed class SendGate
{
    private bool _held;
    private TaskCompletionSource? _next;
    private Queue<TaskCompletionSource>? _more;

    /// <summary>Enters, or waits behind the flush that holds the gate; a cancelled token refuses at once, as SemaphoreSlim's.</summary>
    public ValueTask EnterAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
        TaskCompletionSource waiter;
        lock (this)
        {
            if (!_held)
            {
                _held = true;
                return ValueTask.CompletedTask;
            }

            // Continuations never run inside Exit's lock.
            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_next is null) _next = waiter;
            else (_more ??= new Queue<TaskCompletionSource>()).Enqueue(waiter);
        }

        return WaitAsync(waiter, cancellationToken);
    }

    private static async ValueTask WaitAsync(TaskCompletionSource waiter, CancellationToken cancellationToken)
    {
        // A cancelled waiter stays queued, completed: Exit passes over it.
        using (cancellationToken.UnsafeRegister(static (state, token) => ((TaskCompletionSource)state!).TrySetCanceled(token), waiter))
        {
            await waiter.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Leaves: the gate passes to the first waiter still waiting, or opens.</summary>
    public void Exit()
    {
        lock (this)
        {
            while (_next is { } next)
            {
                _next = _more is { Count: > 0 } more ? more.Dequeue() : null;
                if (_next is null) _more = null;
                if (next.TrySetResult()) return;
            }

            _held = false;
        }
    }
}
