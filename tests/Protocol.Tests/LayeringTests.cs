using Xunit;
using System.Reflection;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Tests;

/// <summary>src/Protocol is the part everything else builds on and tests without an ActorSystem: it never depends on Akka.</summary>
public sealed class LayeringTests
{
    [Fact]
    public void ProtocolAssembly_References_NoAkkaAssembly()
    {
        var references = typeof(RunningConfig).Assembly.GetReferencedAssemblies().Select(a => a.Name ?? string.Empty);

        Assert.DoesNotContain(references, name => name.StartsWith("Akka", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void ProtocolProject_DeclaresNoAkkaPackage()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);

        var project = File.ReadAllText(Path.Combine(dir.FullName, "src", "Protocol", "SslCluster.Protocol.csproj"));

        Assert.DoesNotContain("Include=\"Akka", project, StringComparison.OrdinalIgnoreCase);
    }
}
