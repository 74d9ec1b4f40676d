using SslCluster.Protocol.Net;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>A connection's actor ends its data path through the state they share, whichever of the two comes first.</summary>
public sealed class ConnectionStateTests
{
    private sealed class Connection : IAbortable
    {
        public int Aborts;

        public void Abort() => Interlocked.Increment(ref Aborts);
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
}
