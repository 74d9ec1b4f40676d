using Akka.Actor;
using Akka.Cluster;

namespace SslCluster.Actors;

/// <summary>Sends a message to the actor of one name under /user on every node that serves (members Up or Leaving).</summary>
internal static class NodeBroadcast
{
    public static void ToEveryNode(IActorContext context, string actorName, object message)
    {
        foreach (var member in Cluster.Get(context.System).State.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving))
        {
            context.ActorSelection(new RootActorPath(member.Address) / "user" / actorName).Tell(message, context.Self);
        }
    }
}
