using SslCluster.Protocol.Net;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

public sealed class SendGateTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task EnterAsync_Free_EntersAtOnce()
    {
        var gate = new SendGate();

        var entered = gate.EnterAsync(CancellationToken.None);

        Assert.True(entered.IsCompletedSuccessfully);
        await entered;
        gate.Exit();
        Assert.True(gate.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task EnterAsync_Held_WaitsUntilExitThenEnters()
    {
        var gate = new SendGate();
        await gate.EnterAsync(CancellationToken.None);

        var second = gate.EnterAsync(CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(second.IsCompleted);

        gate.Exit();
        await second.WaitAsync(Wait);
        // The second holds it now: a third waits.
        var third = gate.EnterAsync(CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(third.IsCompleted);
        gate.Exit();
        await third.WaitAsync(Wait);
    }

    [Fact]
    public async Task Exit_SeveralWaiters_EnterInOrderOneAtATime()
    {
        var gate = new SendGate();
        await gate.EnterAsync(CancellationToken.None);
        var order = new List<int>();
        var inside = 0;
        var waiters = Enumerable.Range(0, 20).Select(async i =>
        {
            await gate.EnterAsync(CancellationToken.None);
            Assert.Equal(1, Interlocked.Increment(ref inside));
            lock (order) order.Add(i);
            await Task.Yield();
            Interlocked.Decrement(ref inside);
            gate.Exit();
        }).ToList();

        gate.Exit();
        await Task.WhenAll(waiters).WaitAsync(Wait);

        Assert.Equal(Enumerable.Range(0, 20), order);
    }

    [Fact]
    public async Task EnterAsync_CancelledWhileWaiting_ThrowsAndTheNextWaiterGetsTheGate()
    {
        var gate = new SendGate();
        await gate.EnterAsync(CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var cancelled = gate.EnterAsync(cts.Token).AsTask();
        var next = gate.EnterAsync(CancellationToken.None).AsTask();

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Wait));
        Assert.False(next.IsCompleted);

        gate.Exit();
        await next.WaitAsync(Wait);
        gate.Exit();
        Assert.True(gate.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task EnterAsync_TokenAlreadyCancelled_RefusesEvenWhenFree()
    {
        var gate = new SendGate();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gate.EnterAsync(cts.Token).AsTask());

        // Refusing took nothing: the gate is still free.
        Assert.True(gate.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Exit_OnlyCancelledWaitersLeft_OpensTheGate()
    {
        var gate = new SendGate();
        await gate.EnterAsync(CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var cancelled = new[] { gate.EnterAsync(cts.Token).AsTask(), gate.EnterAsync(cts.Token).AsTask() };
        await cts.CancelAsync();
        foreach (var waiter in cancelled) await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.WaitAsync(Wait));

        gate.Exit();

        Assert.True(gate.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);
    }
}
