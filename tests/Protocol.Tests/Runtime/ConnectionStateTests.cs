using SslCluster.Protocol.Net;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>A connection's actor ends (or drains) its data path through the state they share, whichever of the two comes first.</summary>
public sealed class ConnectionStateTests
{
    private sealed class Connection : IAbortable
    {
        public int Aborts;
        public int GoAways;

        public void Abort() => Interlocked.Increment(ref Aborts);

        public void GoAway() => Interlocked.Increment(ref GoAways);
    }

    private static ConnectionState State() => new(1, "m", null, DateTimeOffset.UtcNow);

    [Fact]
    public void Abort_AfterAttach_EndsTheConnectionOnce()
    {
        var state = State();
        var connection = new Connection();
        state.Attach(connection);

        state.Abort();
        state.Abort();

        Assert.Equal(1, connection.Aborts);
    }

    [Fact]
    public void Attach_AfterAbort_EndsTheConnectionAtOnce()
    {
        var state = State();
        var connection = new Connection();
        state.Abort();

        state.Attach(connection);

        Assert.Equal(1, connection.Aborts);
    }

    [Fact]
    public void Attach_WithoutAbort_LeavesTheConnectionRunning()
    {
        var connection = new Connection();

        State().Attach(connection);

        Assert.Equal(0, connection.Aborts);
    }

    [Fact]
    public async Task AbortAndAttach_Racing_EndTheConnectionExactlyOnce()
    {
        for (var i = 0; i < 2_000; i++)
        {
            var state = State();
            var connection = new Connection();
            using var start = new Barrier(2);
            var abort = Task.Run(() =>
            {
                start.SignalAndWait();
                state.Abort();
            });
            start.SignalAndWait();
            state.Attach(connection);
            await abort;
            Assert.Equal(1, connection.Aborts);
        }
    }

    [Fact]
    public void GoAway_BeforeAttach_ReachesTheConnectionWhenItAttaches()
    {
        var state = State();
        var connection = new Connection();
        state.GoAway();

        state.Attach(connection);

        Assert.Equal((1, 0), (connection.GoAways, connection.Aborts));
    }

    [Fact]
    public async Task GoAwayAndAttach_Racing_TheConnectionAlwaysToldAtLeastOnce()
    {
        for (var i = 0; i < 2_000; i++)
        {
            var state = State();
            var connection = new Connection();
            using var start = new Barrier(2);
            var drain = Task.Run(() =>
            {
                start.SignalAndWait();
                state.GoAway();
            });
            start.SignalAndWait();
            state.Attach(connection);
            await drain;
            Assert.InRange(connection.GoAways, 1, 2);
            Assert.Equal(0, connection.Aborts);
        }
    }
}
