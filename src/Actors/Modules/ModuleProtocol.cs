using SslCluster.Actors.Serialization;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Actors.Modules;

/// <summary>Messages of the sharded SslModule entities.</summary>
public static class ModuleProtocol
{
    /// <summary>Routes a message to the entity of one module (the name of its ssl-accel service).</summary>
    public interface IModuleMessage : IClusterMessage
    {
        string Module { get; }
    }

    /// <summary>A node's current counters for a module, sent every report interval by its agent on that node.</summary>
    /// <summary>
    /// A node's rows for one module. <paramref name="Uid"/> is the node's incarnation; <paramref name="Retired"/> names
    /// the members whose totals the node inherited, whose own last reports the module then drops.
    /// </summary>
    public sealed record ReportFlows(string Module, string Node, IReadOnlyList<FlowRow> Rows, long Uid = 0, IReadOnlyList<RetiredNode>? Retired = null) : IModuleMessage;

    public sealed record GetModuleFlows(string Module) : IModuleMessage;

    /// <summary>
    /// <c>clear ssl-proxy stats</c> at the module: the totals of <paramref name="Category"/> (null for all) back to zero in
    /// every report it holds that no live node has taken, the last report of a member that crashed included (its totals
    /// would otherwise come back with the node that inherits them).
    /// </summary>
    public sealed record ClearModuleFlows(string Module, string? Category) : IModuleMessage;

    /// <summary>How many node reports the module cleared.</summary>
    public sealed record ModuleFlowsCleared(string Module, int Reports) : IClusterMessage;

    /// <summary>The module's counters summed over every node that reported recently.</summary>
    public sealed record CurrentModuleFlows(string Module, IReadOnlyList<FlowRow> Rows, IReadOnlyList<string> Nodes) : IClusterMessage;
}
