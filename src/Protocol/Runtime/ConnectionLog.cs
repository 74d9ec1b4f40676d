using Microsoft.Extensions.Logging;
using SslCluster.Protocol.Net;

namespace SslCluster.Protocol.Runtime;

/// <summary>
/// One log line per failed connection, with stable event ids and fields (side, phase, VIP, port, module or rule,
/// client address, outcome): 1001 client side, 1002 back-end side, 1003 a defect of ours, 1004 lines left out. Client
/// failures (scanners, impatient or broken clients) are rate-limited hard, back-end failures less so, so that a flood
/// costs a few lines a second and a count of the rest.
/// </summary>
public sealed partial class ConnectionLog(ILogger logger, TimeProvider time)
{
    private readonly LogBudget _client = new(time, perSecond: 10, burst: 20);
    private readonly LogBudget _backend = new(time, perSecond: 20, burst: 50);
    private readonly LogBudget _authFailures = new(time, perSecond: 5, burst: 10);

    [LoggerMessage(EventId = 1005, EventName = "ClientAuthFailureAllowed", Level = LogLevel.Information,
        Message = "client {Client} to {Vip}:{Port} ({Owner}) failed client authentication and was let through: {Result} ({Error}): {Reason}")]
    private static partial void AuthFailureAllowed(ILogger logger, string client, string vip, int port, string owner, string result, string error, string reason);

    [LoggerMessage(EventId = 1001, EventName = "ClientSideFailure", Level = LogLevel.Information,
        Message = "connection from {Client} to {Vip}:{Port} ({Owner}) failed on the client side in {Phase}: {Outcome}: {Detail}")]
    private static partial void ClientSide(ILogger logger, string client, string vip, int port, string owner, string phase, ProxyError outcome, string detail);

    [LoggerMessage(EventId = 1002, EventName = "BackendSideFailure", Level = LogLevel.Warning,
        Message = "connection from {Client} to {Vip}:{Port} ({Owner}) failed on the back-end side in {Phase}: {Outcome}: {Detail}")]
    private static partial void BackendSide(ILogger logger, string client, string vip, int port, string owner, string phase, ProxyError outcome, string detail);

    [LoggerMessage(EventId = 1003, EventName = "InternalError", Level = LogLevel.Error,
        Message = "connection from {Client} to {Vip}:{Port} ({Owner}) ended by a defect: {Detail}")]
    private static partial void Internal(ILogger logger, string client, string vip, int port, string owner, string detail);

    [LoggerMessage(EventId = 1004, EventName = "FailuresNotLogged", Level = LogLevel.Warning,
        Message = "{Count} {Side}-side connection failure(s) were not logged (at most {PerSecond} a second are; the metrics count every one)")]
    private static partial void Suppressed(ILogger logger, long count, string side, int perSecond);

    /// <summary>The phase a connection was in when <paramref name="outcome"/> ended it.</summary>
    public static string PhaseOf(ProxyError outcome, bool handshakeDone) => outcome switch
    {
        ProxyError.ClientHandshakeTimeout or ProxyError.ClientHandshakeFailed or ProxyError.ClientServerNameRejected
            or ProxyError.ClientCertificateRejected or ProxyError.ClientClosedEmpty => "client handshake",
        ProxyError.ClientAlertReceived or ProxyError.ClientProtocolError or ProxyError.ClientReset or ProxyError.ClientTruncated =>
            handshakeDone ? "relay" : "client handshake",
        ProxyError.BackendConnectFailed or ProxyError.BackendConnectTimeout => "backend connect",
        ProxyError.BackendHandshakeFailed or ProxyError.BackendHandshakeTimeout or ProxyError.BackendCertificateRejected => "backend handshake",
        _ => "relay",
    };

    /// <summary>
    /// Logs a client whose certificate failed and that the failure action let through (<c>log-auth-failures</c>, the
    /// SSLM's): at most 5 a second, the rest counted in a 1004 line. A refused certificate is logged when its connection
    /// ends (1001), whatever this setting.
    /// </summary>
    public void AuthFailureLetThrough(Tls.ClientAuthOutcome outcome, ListenerPlan listener, ConnectionState state)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(state);
        if (!logger.IsEnabled(LogLevel.Information) || !_authFailures.TryTake(out var skipped)) return;
        if (skipped > 0) Suppressed(logger, skipped, "client-authentication", _authFailures.PerSecond);
        AuthFailureAllowed(logger, state.Client?.ToString() ?? "?", listener.Vip, listener.Port, state.Owner, outcome.Result.ToString(), outcome.ErrorText, outcome.Reason);
    }

    /// <summary>Logs a connection that ended with a failure (normal ends and aborts by us are not failures).</summary>
    public void Ended(ConnectionSummary summary, ListenerPlan listener, ConnectionState state, bool tls)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(state);
        // Normal ends, our own aborts (drain, kill), idle timeouts and clients that sent nothing (port checks) are not
        // failures: the metrics count them.
        if (summary.Error is ProxyError.None or ProxyError.Aborted or ProxyError.IdleTimeout or ProxyError.ClientClosedEmpty
            || !logger.IsEnabled(LogLevel.Information)) return;
        var client = state.Client?.ToString() ?? "?";
        var phase = tls ? PhaseOf(summary.Error, summary.Handshake is not null) : PhaseOf(summary.Error, handshakeDone: true);
        var side = summary.Error.Side();
        var budget = side == "client" ? _client : _backend;
        if (!budget.TryTake(out var skipped))
            return;
        if (skipped > 0) Suppressed(logger, skipped, side == "client" ? "client" : "back-end", budget.PerSecond);
        switch (side)
        {
            case "client":
                ClientSide(logger, client, listener.Vip, listener.Port, state.Owner, phase, summary.Error, summary.Message);
                break;
            case "backend":
                BackendSide(logger, client, listener.Vip, listener.Port, state.Owner, phase, summary.Error, summary.Message);
                break;
            default:
                Internal(logger, client, listener.Vip, listener.Port, state.Owner, summary.Message);
                break;
        }
    }
}

/// <summary>A token bucket of log lines: <paramref name="perSecond"/> refilled up to <paramref name="burst"/>; it counts what it refused.</summary>
public sealed class LogBudget(TimeProvider time, int perSecond, int burst)
{
    private readonly Lock _gate = new();
    private double _tokens = burst;
    private long _lastTicks = time.GetTimestamp();
    private long _skipped;

    public int PerSecond { get; } = perSecond;

    /// <summary>True when a line may be written; <paramref name="skippedBefore"/> is how many were refused since the last one written.</summary>
    public bool TryTake(out long skippedBefore)
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(burst, _tokens + time.GetElapsedTime(_lastTicks, now).TotalSeconds * PerSecond);
            _lastTicks = now;
            if (_tokens < 1)
            {
                _skipped++;
                skippedBefore = 0;
                return false;
            }
            _tokens -= 1;
            skippedBefore = _skipped;
            _skipped = 0;
            return true;
        }
    }
}
