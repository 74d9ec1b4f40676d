using Akka.Actor;
using Akka.Cluster;

namespace SslCluster.Actors;

/// <summary>Reaches the actor of one name under /user on another node, or on every node that serves.</summary>
internal static class NodeBroadcast
{
    /// <summary>The actor <paramref name="actorName"/> under /user on the node at <paramref name="address"/>.</summary>
    public static ActorSelection On(IActorContext context, Address address, string actorName) =>
        context.ActorSelection(new RootActorPath(address) / "user" / actorName);

    /// <summary>The addresses of the nodes that serve (members Up or Leaving), this one included.</summary>
    public static IEnumerable<Address> Serving(ActorSystem system) =>
        Cluster.Get(system).State.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving).Select(m => m.Address);

    /// <summary>Sends to the actor of that name on every node that serves, this one included.</summary>
    public static void ToEveryNode(IActorContext context, string actorName, object message)
    {
        foreach (var address in Serving(context.System))
        {
            On(context, address, actorName).Tell(message, context.Self);
        }
    }
}
