using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// The data-path warm-up a node runs before it opens its listeners: real loopback sockets, the node's own OpenSSL
/// server and client, the bundled HTTP server behind.
/// </summary>
public sealed class DataPathWarmUpTests
{
    [Fact]
    public async Task RunAsync_FortyConnections_EachRunsToItsEndWithEveryRequestAnswered()
    {
        var report = await DataPathWarmUp.RunAsync(40, TimeSpan.FromSeconds(60));

        Assert.Null(report.FirstFailure);
        Assert.Equal(0, report.Failed);
        Assert.False(report.Stopped);
        Assert.Equal(40, report.Connections);
        // Twenty connections per listener, connection n asking 1 + n % 4 requests: 5 x (1 + 2 + 3 + 4) on each.
        Assert.Equal(100, report.Requests);
        Assert.StartsWith("40 connections, 100 requests in ", report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_TwiceInOneProcess_EachRunIsItsOwn()
    {
        // A node's warm-up leaves nothing behind that a second one (a test, a restart in the same process) would trip on:
        // its ports, keys, sessions and ticket keys are its own.
        var first = await DataPathWarmUp.RunAsync(16, TimeSpan.FromSeconds(60));
        var second = await DataPathWarmUp.RunAsync(16, TimeSpan.FromSeconds(60));

        Assert.Equal((16, 0, false), (first.Connections, first.Failed, first.Stopped));
        Assert.Equal((16, 0, false), (second.Connections, second.Failed, second.Stopped));
    }

    [Fact]
    public async Task RunAsync_NoConnections_DoesNothing()
    {
        var report = await DataPathWarmUp.RunAsync(0, TimeSpan.FromSeconds(1));

        Assert.Equal(new WarmUpReport(0, 0, 0, report.Elapsed, null), report);
    }

    [Fact]
    public async Task RunAsync_CancelledBeforeItStarts_ReturnsAReportThatSaysItStopped()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        var report = await DataPathWarmUp.RunAsync(400, TimeSpan.FromSeconds(60), cancelled.Token);

        Assert.True(report.Stopped);
        Assert.Equal((0, 0), (report.Connections, report.Failed));
        Assert.Contains("(stopped before the end)", report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_LimitShorterThanTheWork_StopsWithinTheLimitAndSaysSo()
    {
        var report = await DataPathWarmUp.RunAsync(100_000, TimeSpan.FromMilliseconds(300));

        Assert.True(report.Stopped);
        Assert.True(report.Connections < 100_000);
        Assert.Equal(0, report.Failed);
        // The limit, then the close of what was open (each served connection ends with its client).
        Assert.True(report.Elapsed < TimeSpan.FromSeconds(10), $"took {report.Elapsed}");
    }

    [Fact]
    public async Task RunAsync_NegativeCount_IsRefused()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => DataPathWarmUp.RunAsync(-1, TimeSpan.FromSeconds(1)));
    }
}
