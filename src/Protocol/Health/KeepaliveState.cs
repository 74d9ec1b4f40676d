using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Health;

/// <summary>The three numbers that drive a keepalive, as the CSS shows them: <c>(TYPE frequency maxfailure retryperiod)</c>.</summary>
public sealed record KeepaliveTiming(TimeSpan Frequency, TimeSpan RetryPeriod, int MaxFailure)
{
    public static KeepaliveTiming From(KeepaliveSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new(TimeSpan.FromSeconds(settings.FrequencySeconds), TimeSpan.FromSeconds(settings.RetryPeriodSeconds), settings.MaxFailure);
    }

    /// <summary>
    /// How long one probe may take: one second less than the frequency, as the CSS does from WebNS 5.20 (its
    /// command reference: "the timeout is one second less than the keepalive frequency"), so a probe always ends
    /// before the next one is due.
    /// </summary>
    public TimeSpan Timeout => Frequency > TimeSpan.FromSeconds(1) ? Frequency - TimeSpan.FromSeconds(1) : Frequency / 2;
}

/// <summary>One change of state, for the log and <c>show keepalive</c>.</summary>
public sealed record KeepaliveTransition(string Name, ServiceHealthState From, ServiceHealthState To, string Detail, DateTimeOffset At);

/// <summary>
/// The keepalive state machine of one service or global keepalive, pure: the runner feeds it results and the time,
/// it answers the next state and when to probe next.
///
/// The CSS rules, from its configuration guides ("Configuring Keepalives for a Service", "show service" field
/// descriptions) and Cisco's keepalive tech note:
/// - defaults: frequency 5 s, retry period 5 s, maxfailure 3 (ranges 2-255, 2-255, 1-10);
/// - while Alive the CSS probes every <c>frequency</c> seconds;
/// - a failed probe makes the service Dying ("failing according to keepalive retryperiod, frequency and maxfailure")
///   and from then on it is probed every <c>retryperiod</c> seconds;
/// - after <c>maxfailure</c> failures in a row it is Down: no new flows, live ones are kept;
/// - a Down service is still probed, every <c>retryperiod</c> seconds (the retry period applies on the way down and
///   on the way back), and one success brings it back Alive, as one success also ends Dying.
/// A keepalive starts Alive with its first probe due at once: a service is taken into rotation when it is activated,
/// as on the CSS, and a dead one leaves it after maxfailure retry periods.
/// </summary>
public sealed record KeepaliveState
{
    public ServiceHealthState State { get; init; } = ServiceHealthState.Alive;

    public int ConsecutiveFailures { get; init; }

    public DateTimeOffset NextProbeAt { get; init; }

    public long ProbesSent { get; init; }

    public long Successes { get; init; }

    public long Failures { get; init; }

    /// <summary>What the last probe reported (the script's first output line with <c>use-output</c>).</summary>
    public string? LastDetail { get; init; }

    public string? LastFailureReason { get; init; }

    public DateTimeOffset? LastFailureAt { get; init; }

    public DateTimeOffset Since { get; init; }

    public DateTimeOffset? LastStateChange { get; init; }

    public long Transitions { get; init; }

    /// <summary>
    /// Which of the candidate SSL modules sends the next encrypted keepalive: the reference's rule is "it picks a
    /// module to send the encrypted keepalive, until the keepalive fails, and then it will pick another module".
    /// </summary>
    public int ModuleIndex { get; init; }

    /// <summary>The module that sent the last encrypted keepalive, if it needed one.</summary>
    public string? LastModule { get; init; }

    public static KeepaliveState Start(DateTimeOffset now) => new() { NextProbeAt = now, Since = now };

    /// <summary>The module for the next probe among <paramref name="modules"/>, or null when none is needed.</summary>
    public string? ModuleFor(IReadOnlyList<string> modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        return modules.Count == 0 ? null : modules[ModuleIndex % modules.Count];
    }

    /// <summary>Applies one probe result at <paramref name="now"/>.</summary>
    public (KeepaliveState Next, KeepaliveTransition? Change) OnResult(string name, bool alive, string detail, string? module, KeepaliveTiming timing, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(timing);
        var counted = this with
        {
            ProbesSent = ProbesSent + 1,
            Successes = Successes + (alive ? 1 : 0),
            Failures = Failures + (alive ? 0 : 1),
            LastDetail = detail,
            LastModule = module,
        };
        ServiceHealthState to;
        KeepaliveState next;
        if (alive)
        {
            to = ServiceHealthState.Alive;
            next = counted with { ConsecutiveFailures = 0, NextProbeAt = now + timing.Frequency };
        }
        else
        {
            var failures = ConsecutiveFailures + 1;
            to = failures >= timing.MaxFailure ? ServiceHealthState.Down : ServiceHealthState.Dying;
            next = counted with
            {
                ConsecutiveFailures = failures,
                NextProbeAt = now + timing.RetryPeriod,
                LastFailureReason = detail,
                LastFailureAt = now,
                // The failed module hands the next encrypted keepalive to another one.
                ModuleIndex = module is null ? ModuleIndex : ModuleIndex + 1,
            };
        }
        if (to == State) return (next, null);
        return (next with { State = to, Since = now, LastStateChange = now, Transitions = Transitions + 1 },
            new KeepaliveTransition(name, State, to, detail, now));
    }
}
