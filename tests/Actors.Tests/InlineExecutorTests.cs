using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using SslCluster.Actors.Dispatch;
using SslCluster.Actors.Settings;
using Xunit;

namespace SslCluster.Actors.Tests;

public sealed class InlineExecutorTests() : TestKit(ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(SslClusterSettings.Reference))
{
    private sealed record Hop(int Left, List<(int Thread, bool Pool)> Seen);

    private sealed record Spawn(List<(int Thread, bool Pool)> Seen);

    private sealed record Numbered(int Sender, int N);

    /// <summary>Records the thread it runs on, then hands the message on (or back to the test).</summary>
    private sealed class Recorder : UntypedActor
    {
        private readonly IActorRef? _next;
        private readonly IActorRef _done;

        public Recorder(IActorRef? next, IActorRef done, List<(int Thread, bool Pool)>? created = null)
        {
            _next = next;
            _done = done;
            if (created is not null) lock (created) created.Add(Here());
        }

        private static (int, bool) Here() => (Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread);

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case Hop h:
                    lock (h.Seen) h.Seen.Add(Here());
                    if (h.Left > 0 && _next is not null) _next.Tell(h with { Left = h.Left - 1 });
                    else _done.Tell(h);
                    break;
                case Spawn s:
                    var done = _done;
                    Context.ActorOf(Props.Create(() => new Recorder(null, done, s.Seen)).WithDispatcher(InlineExecutor.Dispatcher));
                    break;
                default:
                    _done.Tell(message);
                    break;
            }
        }
    }

    private IActorRef Chain(int length)
    {
        IActorRef? next = null;
        for (var i = 0; i < length; i++)
        {
            var previous = next;
            next = Sys.ActorOf(Props.Create(() => new Recorder(previous, TestActor, null)).WithDispatcher(InlineExecutor.Dispatcher));
        }
        var last = next!;
        last.Tell("ready");
        ExpectMsg("ready");
        return last;
    }

    /// <summary>Runs <paramref name="action"/> on a thread of its own (never a pool thread) and returns its id.</summary>
    private static int OnOwnThread(Action action)
    {
        var id = 0;
        var thread = new Thread(() =>
        {
            id = Environment.CurrentManagedThreadId;
            action();
        });
        thread.Start();
        thread.Join();
        return id;
    }

    [Fact]
    public void Execute_TellInAnInlineScope_RunsOnTheSendersThreadBeforeTellReturns()
    {
        var actor = Chain(1);
        var seen = new List<(int Thread, bool Pool)>();
        var countWhenTellReturned = -1;

        var caller = OnOwnThread(() =>
        {
            using (InlineExecutor.Inline()) actor.Tell(new Hop(0, seen));
            lock (seen) countWhenTellReturned = seen.Count;
        });

        ExpectMsg<Hop>();
        Assert.Equal(1, countWhenTellReturned);
        Assert.Equal(caller, seen.Single().Thread);
    }

    [Fact]
    public void Execute_TellOutsideAnInlineScope_RunsOnAPoolThreadAsAkkasDefault()
    {
        var actor = Chain(1);
        var seen = new List<(int Thread, bool Pool)>();

        var caller = OnOwnThread(() => actor.Tell(new Hop(0, seen)));

        ExpectMsg<Hop>();
        Assert.NotEqual(caller, seen.Single().Thread);
        Assert.True(seen.Single().Pool);
    }

    [Fact]
    public void Execute_TimersMessage_RunsOnAPoolThreadNotTheSchedulersThread()
    {
        var actor = Chain(1);
        var seen = new List<(int Thread, bool Pool)>();

        Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(20), actor, new Hop(0, seen), ActorRefs.NoSender);

        ExpectMsg<Hop>();
        Assert.True(seen.Single().Pool);
    }

    [Fact]
    public void Execute_ChainLongerThanTheDepthLimit_ThreeHopsOnTheCallerThenThePoolAndEveryHopArrives()
    {
        var first = Chain(12);
        var seen = new List<(int Thread, bool Pool)>();

        var caller = OnOwnThread(() =>
        {
            using (InlineExecutor.Inline()) first.Tell(new Hop(11, seen));
        });

        ExpectMsg<Hop>(h => h.Left == 0);
        Assert.Equal(12, seen.Count);
        Assert.All(seen.Take(InlineExecutor.MaxDepth), s => Assert.Equal(caller, s.Thread));
        Assert.All(seen.Skip(InlineExecutor.MaxDepth), s => Assert.True(s.Thread != caller && s.Pool));
    }

    [Fact]
    public void Execute_ParentRunInlineCreatesAChild_TheChildsConstructorRunsOnTheCallersThread()
    {
        // As a flow agent run from the accept loop creates the connection's actor.
        var parent = Chain(1);
        var created = new List<(int Thread, bool Pool)>();

        var caller = OnOwnThread(() =>
        {
            using (InlineExecutor.Inline()) parent.Tell(new Spawn(created));
        });

        AwaitCondition(() => { lock (created) return created.Count == 1; });
        Assert.Equal(caller, created.Single().Thread);
    }

    [Fact]
    public void Execute_ManySendersInAndOutOfInlineScopes_EveryMessageOnceInEachSendersOrder()
    {
        var actor = Chain(1);
        const int PerSender = 10_000;

        Parallel.For(0, 4, sender =>
        {
            for (var i = 0; i < PerSender; i++)
            {
                if (sender % 2 == 0)
                {
                    using (InlineExecutor.Inline()) actor.Tell(new Numbered(sender, i));
                }
                else
                {
                    actor.Tell(new Numbered(sender, i));
                }
            }
        });

        var next = new int[4];
        for (var i = 0; i < 4 * PerSender; i++)
        {
            var m = ExpectMsg<Numbered>(TimeSpan.FromSeconds(30));
            Assert.Equal(next[m.Sender]++, m.N);
        }
        Assert.All(next, n => Assert.Equal(PerSender, n));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}
