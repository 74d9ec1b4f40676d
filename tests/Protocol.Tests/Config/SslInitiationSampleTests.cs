using SslCluster.Protocol.Config;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Protocol.Tests.Config;

public sealed class SslInitiationSampleTests
{
    private static string Sample(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Config", "Samples", name));

    [Fact]
    public void Parse_SslInitiationSample_LoadsAsPrintedAndPlansTlsTowardsTheRealServer()
    {
        var result = ConfigParser.Parse(Sample("ssl-init.cfg"));

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var plan = RuntimePlan.Build(1, result.Config!);
        var listener = Assert.Single(plan.Listeners);
        Assert.Equal(("172.18.87.101", 80, ListenerKind.TcpRelay), (listener.Vip, listener.Port, listener.Kind));
        var target = Assert.Single(listener.Servers);
        // Clear text in on 172.18.87.101:80, TLS out to the real server's 443, counted under module ssl2 (slot 2)
        // in the row of the backend-server's pick-up address.
        Assert.Equal(("ssl-init", "10.10.20.111", 443), (target.Name, target.Address, target.Port));
        var backend = Assert.IsType<BackendServerPlan>(target.Backend);
        Assert.Equal((BackendServerType.Initiation, "ssl2", "10.10.20.111", 80), (backend.Server.Type, backend.InitiationModule, backend.RowVirtual, backend.RowPort));
    }
}
