using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>A real server that refuses connects is avoided before its keepalive notices, and comes back after a trial.</summary>
public sealed class PassiveHealthTests
{
    private static readonly ServerTarget A = new("a", "10.0.0.1", 80, 1);
    private static readonly ServerTarget B = new("b", "10.0.0.2", 80, 1);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Next_ServerThatFailedThreeConnectsInARow_GetsNoNewFlowsForTheAvoidPeriod()
    {
        var passive = new PassiveHealth(_time, 3, TimeSpan.FromSeconds(10));
        var balancer = new TargetBalancer([A, B], BalanceMethod.RoundRobin, AlwaysAlive.Instance, new ServiceGauges(), passive);
        passive.Failed("a");
        passive.Failed("a");
        Assert.Contains("a", Enumerable.Range(0, 4).Select(_ => balancer.Next()!.Name));

        passive.Failed("a");

        Assert.All(Enumerable.Range(0, 10).Select(_ => balancer.Next()!.Name), n => Assert.Equal("b", n));
        Assert.Equal(1, passive.Avoidances);
        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.Contains("a", Enumerable.Range(0, 4).Select(_ => balancer.Next()!.Name));
    }

    [Fact]
    public void Next_EveryServerAvoided_StillTriesThemRatherThanRefusing()
    {
        var passive = new PassiveHealth(_time, 1, TimeSpan.FromSeconds(10));
        var balancer = new TargetBalancer([A, B], BalanceMethod.LeastConnections, AlwaysAlive.Instance, new ServiceGauges(), passive);
        passive.Failed("a");
        passive.Failed("b");

        Assert.NotNull(balancer.Next());
    }

    [Fact]
    public void Succeeded_AfterAvoidance_TrustsTheServerAgainAndCountsFromZero()
    {
        var passive = new PassiveHealth(_time, 2, TimeSpan.FromSeconds(10));
        passive.Failed("a");
        passive.Failed("a");
        Assert.True(passive.IsAvoided("a"));

        passive.Succeeded("a");
        passive.Failed("a");

        Assert.False(passive.IsAvoided("a"));
    }
}

/// <summary>Connection failures are logged one line each with stable event ids and fields, and a flood is cut to a few lines and a count.</summary>
public sealed class ConnectionLogTests
{
    private sealed class Capture : ILogger
    {
        public List<(EventId Id, LogLevel Level, string Message, IReadOnlyList<KeyValuePair<string, object?>> Fields)> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add((eventId, logLevel, formatter(state, exception), state as IReadOnlyList<KeyValuePair<string, object?>> ?? []));
    }

    private static readonly ListenerPlan Listener = new("o", "r", "10.0.0.9", 443, ListenerKind.TlsTermination, [], []);

    private static ConnectionSummary Summary(ProxyError error, bool handshake) =>
        new(1, error, error.Describe(), handshake ? new SslCluster.Protocol.Tls.HandshakeInfo(SslCluster.Protocol.Tls.TlsVersion.Tls12, 0xc02f, null, false, "o/1", null) : null,
            false, 0, 0, 0, 0, 0, TimeSpan.Zero, TimeSpan.Zero);

    [Fact]
    public void Ended_BackendConnectFailed_OneWarningWithEveryField()
    {
        var capture = new Capture();
        var log = new ConnectionLog(capture, new FakeTimeProvider());
        var state = new ConnectionState(7, "ssl2", new IPEndPoint(IPAddress.Parse("127.0.0.5"), 40000), DateTimeOffset.UnixEpoch);

        log.Ended(Summary(ProxyError.BackendConnectFailed, true), Listener, state, tls: true);

        var line = Assert.Single(capture.Lines);
        Assert.Equal(1002, line.Id.Id);
        Assert.Equal(LogLevel.Warning, line.Level);
        var fields = line.Fields.ToDictionary(f => f.Key, f => f.Value?.ToString());
        Assert.Equal("backend connect", fields["Phase"]);
        Assert.Equal("10.0.0.9", fields["Vip"]);
        Assert.Equal("443", fields["Port"]);
        Assert.Equal("ssl2", fields["Owner"]);
        Assert.Equal("127.0.0.5:40000", fields["Client"]);
        Assert.Equal("BackendConnectFailed", fields["Outcome"]);
    }

    [Fact]
    public void Ended_FloodOfClientFailures_FewLinesThenACountOfTheRest()
    {
        var capture = new Capture();
        var time = new FakeTimeProvider();
        var log = new ConnectionLog(capture, time);
        var state = new ConnectionState(7, "ssl2", null, DateTimeOffset.UnixEpoch);

        for (var i = 0; i < 1_000; i++) log.Ended(Summary(ProxyError.ClientHandshakeTimeout, false), Listener, state, tls: true);
        time.Advance(TimeSpan.FromSeconds(1));
        log.Ended(Summary(ProxyError.ClientHandshakeTimeout, false), Listener, state, tls: true);

        Assert.Equal(21, capture.Lines.Count(l => l.Id.Id == 1001)); // a burst of 20, then the one a second later
        var suppressed = Assert.Single(capture.Lines, l => l.Id.Id == 1004);
        Assert.Contains("980 client-side connection failure(s) were not logged", suppressed.Message, StringComparison.Ordinal);
        Assert.Equal("client handshake", capture.Lines[0].Fields.Single(f => f.Key == "Phase").Value);
    }

    [Fact]
    public void AuthFailureLetThrough_Flood_FiveASecondAfterABurstOfTenThenACount()
    {
        var capture = new Capture();
        var time = new FakeTimeProvider();
        var log = new ConnectionLog(capture, time);
        var state = new ConnectionState(7, "ssl2", new IPEndPoint(IPAddress.Parse("127.0.0.5"), 40000), DateTimeOffset.UnixEpoch);
        var outcome = new SslCluster.Protocol.Tls.ClientAuthOutcome(SslCluster.Protocol.Tls.ClientAuthResult.Revoked, "CN=m", "CN=ca", "01", "listed");

        for (var i = 0; i < 100; i++) log.AuthFailureLetThrough(outcome, Listener, state);
        time.Advance(TimeSpan.FromSeconds(1));
        log.AuthFailureLetThrough(outcome, Listener, state);

        var lines = capture.Lines.Where(l => l.Id.Id == 1005).ToList();
        Assert.Equal(11, lines.Count); // a burst of 10, then one of the 5 refilled a second later
        Assert.Equal("Cert Revoked", lines[0].Fields.Single(f => f.Key == "Error").Value);
        Assert.Contains("90 client-authentication-side connection failure(s) were not logged", Assert.Single(capture.Lines, l => l.Id.Id == 1004).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ended_NormalEndOrAbortByUs_NotLogged()
    {
        var capture = new Capture();
        var log = new ConnectionLog(capture, new FakeTimeProvider());
        var state = new ConnectionState(7, "ssl2", null, DateTimeOffset.UnixEpoch);

        log.Ended(Summary(ProxyError.None, true), Listener, state, tls: true);
        log.Ended(Summary(ProxyError.Aborted, true), Listener, state, tls: true);

        Assert.Empty(capture.Lines);
    }
}
