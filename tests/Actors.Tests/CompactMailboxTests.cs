using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.TestKit.Xunit2;
using SslCluster.Actors.Dispatch;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Actors.Tests;

/// <summary>
/// The connection actors' mailbox: a small locked queue that must still be a mailbox (FIFO, nothing lost under
/// concurrent senders, what is left goes to dead letters).
/// </summary>
public sealed class CompactMailboxTests() : TestKit(ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(SslClusterSettings.Reference))
{
    private static Envelope Message(object body) => new(body, ActorRefs.NoSender);

    [Fact]
    public void Queue_MessagesEnqueued_ComeOutInOrderAndCountsFollow()
    {
        var queue = new CompactMessageQueue();
        Assert.False(queue.HasMessages);
        Assert.False(queue.TryDequeue(out _));

        for (var i = 0; i < 100; i++) queue.Enqueue(ActorRefs.Nobody, Message(i));

        Assert.True(queue.HasMessages);
        Assert.Equal(100, queue.Count);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(queue.TryDequeue(out var envelope));
            Assert.Equal(i, envelope.Message);
        }
        Assert.False(queue.HasMessages);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void Queue_CleanUp_HandsWhatIsLeftToTheDeadLettersInOrder()
    {
        var queue = new CompactMessageQueue();
        var dead = new CompactMessageQueue();
        for (var i = 0; i < 5; i++) queue.Enqueue(ActorRefs.Nobody, Message(i));

        queue.CleanUp(ActorRefs.Nobody, dead);

        Assert.Equal(0, queue.Count);
        Assert.Equal(5, dead.Count);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(dead.TryDequeue(out var envelope));
            Assert.Equal(i, envelope.Message);
        }
    }

    [Fact]
    public async Task Queue_FourSendersAndOneReader_EveryMessageArrivesOnceInEachSendersOrder()
    {
        const int Senders = 4, PerSender = 20_000;
        var queue = new CompactMessageQueue();
        var seen = new int[Senders];
        var received = 0;
        var reader = Task.Run(() =>
        {
            var spins = 0;
            while (received < Senders * PerSender && spins < 50_000_000)
            {
                if (!queue.TryDequeue(out var envelope))
                {
                    spins++;
                    continue;
                }

                var (sender, n) = ((int, int))envelope.Message;
                Assert.Equal(seen[sender], n);
                seen[sender] = n + 1;
                received++;
            }
        });
        var senders = Enumerable.Range(0, Senders).Select(s => Task.Run(() =>
        {
            for (var n = 0; n < PerSender; n++) queue.Enqueue(ActorRefs.Nobody, Message((s, n)));
        })).ToArray();

        await Task.WhenAll(senders);
        await reader.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(Senders * PerSender, received);
        Assert.All(seen, n => Assert.Equal(PerSender, n));
        Assert.False(queue.HasMessages);
    }

    [Fact]
    public void Actor_OnTheConnectionMailbox_GetsEveryMessageInOrder()
    {
        var echo = Sys.ActorOf(Props.Create(() => new Echo()).WithMailbox(CompactMailbox.Path));

        for (var i = 0; i < 1_000; i++) echo.Tell(i, TestActor);

        for (var i = 0; i < 1_000; i++) ExpectMsg(i);
    }

    [Fact]
    public void ConnectionActorProps_UseTheCompactMailboxOnTheConnectionDispatcher()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var props = ConnectionActor.Props(socket, null!, null, new FlowCounters(), new ConnectionState(1, "o", null, DateTimeOffset.UnixEpoch),
            TimeProvider.System);

        Assert.Equal(CompactMailbox.Path, props.Mailbox);
        Assert.Equal(InlineExecutor.Dispatcher, props.Dispatcher);
        Assert.IsType<CompactMailbox>(Sys.Mailboxes.Lookup(CompactMailbox.Path));
    }

    [Fact]
    public void ConnectionSupervision_AConnectionActorFails_ItIsStoppedNotRestarted()
    {
        // A restart would run the actor's constructor again, which starts a second data path on the same socket.
        Assert.Equal(Directive.Stop, FlowAgentActor.ConnectionSupervision.Decider.Decide(new InvalidOperationException("a defect")));
        Assert.Equal(Directive.Stop, FlowAgentActor.ConnectionSupervision.Decider.Decide(new ActorKilledException("kill")));
    }

    private sealed class Echo : UntypedActor
    {
        protected override void OnReceive(object message) => Sender.Tell(message);
    }
}
