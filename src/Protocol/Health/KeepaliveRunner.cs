namespace SslCluster.Protocol.Health;

/// <summary>
/// Runs one keepalive: waits until the state machine says the next probe is due (on the given clock), probes with
/// the CSS's time limit, applies the result, publishes the state to the table and reports transitions.
/// </summary>
public sealed class KeepaliveRunner(
    KeepaliveTarget target,
    IKeepaliveProbe probe,
    IKeepaliveSink table,
    TimeProvider time,
    Action<KeepaliveTransition>? onTransition = null)
{
    public KeepaliveState State { get; private set; } = KeepaliveState.Start(time.GetUtcNow());

    /// <summary>Probes until <paramref name="ct"/> is cancelled (the keepalive is removed or changed).</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        table.Publish(target.Key, State);
        while (!ct.IsCancellationRequested)
        {
            var wait = State.NextProbeAt - time.GetUtcNow();
            try
            {
                if (wait > TimeSpan.Zero) await Task.Delay(wait, time, ct);
                await ProbeOnceAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>One probe and its result, whatever the schedule says (tests and the first probe).</summary>
    public async Task ProbeOnceAsync(CancellationToken ct)
    {
        var module = State.ModuleFor(target.Modules);
        var timing = target.Timing;
        ProbeOutcome outcome;
        using (var limit = new CancellationTokenSource(timing.Timeout, time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, limit.Token))
        {
            try
            {
                outcome = await probe.ProbeAsync(new ProbeAttempt(module), linked.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                outcome = new ProbeOutcome(false, $"{probe.Describe()} timed out after {timing.Timeout.TotalSeconds:0.#} s");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A probe that breaks in an unforeseen way counts as a failure; the keepalive goes on.
                outcome = new ProbeOutcome(false, $"{probe.Describe()} failed ({e.Message})");
            }
        }
        // A keepalive removed or changed meanwhile must not overwrite its successor's state.
        ct.ThrowIfCancellationRequested();
        var (next, change) = State.OnResult(target.Key.ToString(), outcome.Alive, outcome.Detail, module, timing, time.GetUtcNow());
        State = next;
        table.Publish(target.Key, next);
        if (change is not null) onTransition?.Invoke(change);
    }
}
