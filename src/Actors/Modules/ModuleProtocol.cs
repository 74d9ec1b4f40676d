using SslCluster.Actors.Serialization;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Actors.Modules;

/// <summary>Messages of the sharded SslModule and ProxyList entities.</summary>
public static class ModuleProtocol
{
    /// <summary>Routes a message to the entity of one module (the name of its ssl-accel service).</summary>
    public interface IModuleMessage : IClusterMessage
    {
        string Module { get; }
    }

    /// <summary>Routes a message to the entity of one proxy list.</summary>
    public interface IProxyListMessage : IClusterMessage
    {
        string ProxyList { get; }
    }

    /// <summary>A node's current counters for a module, sent every report interval by its agent on that node.</summary>
    public sealed record ReportFlows(string Module, string Node, IReadOnlyList<FlowRow> Rows) : IModuleMessage;

    public sealed record GetModuleFlows(string Module) : IModuleMessage;

    /// <summary>The module's counters summed over every node that reported recently.</summary>
    public sealed record CurrentModuleFlows(string Module, IReadOnlyList<FlowRow> Rows, IReadOnlyList<string> Nodes) : IClusterMessage;

    /// <summary>The configuration store publishes each new revision of a proxy list to its entity.</summary>
    public sealed record PublishProxyList(string ProxyList, long Revision, string Text) : IProxyListMessage;

    public sealed record GetProxyList(string ProxyList) : IProxyListMessage;

    public sealed record CurrentProxyList(string ProxyList, long Revision, string Text) : IClusterMessage;
}
