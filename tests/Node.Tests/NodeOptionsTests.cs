using SslCluster.Actors.Settings;
using SslCluster.Node;
using Xunit;

namespace SslCluster.Node.Tests;

public sealed class NodeOptionsTests
{
    [Fact]
    public void Parse_CryptoOpenSsl_AcceptedAndAnyOtherEngineRefusedSayingItWasRemoved()
    {
        NodeOptions.Parse(["--crypto", "openssl"]);

        var e = Assert.Throws<ArgumentException>(() => NodeOptions.Parse(["--crypto", "native"]));
        Assert.Contains("OpenSSL is the only TLS engine", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Options_BecomeConfigurationKeys()
    {
        var options = NodeOptions.Parse(["--data-dir", "/tmp/x", "--demo", "--admin-port", "9555", "--address-map", "private-to-loopback", "--set", "sslcluster.proxy.backlog=77"]);

        var s = SslClusterSettings.Create(options.Config);
        Assert.Equal("/tmp/x", s.DataDir);
        Assert.True(s.DemoEnabled);
        Assert.Equal(9555, s.AdminPort);
        Assert.Equal("private-to-loopback", s.AddressMap);
        Assert.Equal(77, s.Backlog);
    }

    [Fact]
    public void Parse_Seeds_ListedInOrder()
    {
        var options = NodeOptions.Parse(["--seed", "akka.tcp://sslcluster@127.0.0.1:4053", "--seed", "akka.tcp://sslcluster@127.0.0.2:4053"]);

        Assert.Equal(["akka.tcp://sslcluster@127.0.0.1:4053", "akka.tcp://sslcluster@127.0.0.2:4053"], options.Config.GetStringList("akka.cluster.seed-nodes"));
    }

    [Fact]
    public void Parse_JournalPostgres_SetsJournalAndSnapshotStoreToPostgreSql()
    {
        const string connection = "Host=127.0.0.1;Port=5432;Username=u;Database=d";
        var config = NodeOptions.Parse(["--journal-postgres", connection]).Config;

        foreach (var store in new[] { "akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql" })
        {
            Assert.Equal(connection, config.GetString(store + ".connection-string"));
            Assert.Equal("PostgreSQL.15", config.GetString(store + ".provider-name"));
        }
    }

    [Theory]
    [InlineData(new[] { "--admin-port", "http" }, "--admin-port must be a port number")]
    [InlineData(new[] { "--admin-port", "70000" }, "--admin-port must be a port number")]
    [InlineData(new[] { "--data-dir" }, "--data-dir needs a value")]
    [InlineData(new[] { "--config", "/nonexistent.conf" }, "does not exist")]
    [InlineData(new[] { "--set", "novalue" }, "--set takes KEY=VALUE")]
    [InlineData(new[] { "--frobnicate" }, "unknown option '--frobnicate'")]
    [InlineData(new[] { "--journal-postgres", "postgres.example" }, "--journal-postgres takes an Npgsql connection string")]
    public void Parse_BadOption_SaysWhatIsWrong(string[] args, string fragment)
    {
        var e = Assert.Throws<ArgumentException>(() => NodeOptions.Parse(args));

        Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Help_AsksForUsage()
    {
        Assert.True(NodeOptions.Parse(["--help"]).ShowHelp);
    }
}

public sealed class HoconOverlayTests
{
    public static TheoryData<string> Overlays() =>
    [.. Directory.GetFiles(Path.Combine(SslCluster.TestSupport.RepoPaths.Root, "hocon"), "*.conf").Select(f => Path.GetFileName(f))];

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Overlay_LoadsAndGivesValidSettings(string file)
    {
        var options = NodeOptions.Parse(["--config", Path.Combine(SslCluster.TestSupport.RepoPaths.Root, "hocon", file)]);

        var settings = SslClusterSettings.Create(options.Config);

        Assert.NotNull(settings);
        _ = SslCluster.Protocol.Runtime.AddressMap.Parse(settings.AddressMap);
    }
}

public sealed class ClusterOverlayTests
{
    private static readonly string ClusterConf = Path.Combine(SslCluster.TestSupport.RepoPaths.Root, "hocon", "cluster.conf");

    [Fact]
    public void ClusterOverlay_WithOptionsAndJournalFromEnvironment_GivesAClusterNode()
    {
        var environment = new Dictionary<string, string> { [NodeOptions.JournalVariable] = "Host=pg;Port=5432;Username=u;Password=secret;Database=d" };

        var config = NodeOptions.Parse(["--config", ClusterConf, "--hostname", "10.1.0.7", "--discovery", "kubernetes", "--set", "sslcluster.node.bootstrap.required-contact-points=3"],
            name => environment.GetValueOrDefault(name)).Config.WithFallback(SslClusterSettings.Reference);

        var (method, formation) = ClusterFormation.Resolve(config);
        Assert.Equal(FormationMethod.Kubernetes, method);
        Assert.Equal(3, formation.GetInt("akka.management.cluster.bootstrap.contact-point-discovery.required-contact-point-nr"));
        Assert.Equal("10.1.0.7", formation.GetString("akka.management.http.hostname"));
        Assert.Equal("Host=pg;Port=5432;Username=u;Password=secret;Database=d", config.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.Equal("Host=pg;Port=5432;Username=u;Password=secret;Database=d", config.GetString("akka.persistence.snapshot-store.sql.connection-string"));
        Assert.Equal("PostgreSQL.15", config.GetString("akka.persistence.snapshot-store.sql.provider-name"));
        Assert.Equal("10.1.0.7", config.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal(4100, config.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal("/etc/sslcluster/remoting/node.p12", SslClusterSettings.Create(config).RemotingTlsCertificate);
    }

    [Fact]
    public void Parse_JournalOptionAndEnvironment_OptionWins()
    {
        var config = NodeOptions.Parse(["--journal-postgres", "Host=a;Database=d"], _ => "Host=b;Database=d").Config;

        Assert.Equal("Host=a;Database=d", config.GetString("akka.persistence.journal.sql.connection-string"));
    }

    [Fact]
    public void Parse_JournalVariableNotAConnectionString_ErrorNamesItWithoutThePassword()
    {
        var e = Assert.Throws<ArgumentException>(() => NodeOptions.Parse([], _ => "postgres://u@pg/d;Password=hunter2"));

        Assert.Contains(NodeOptions.JournalVariable + " takes an Npgsql connection string", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", e.Message, StringComparison.Ordinal);
    }
}

public sealed class BootstrapOptionsTests
{
    [Fact]
    public void Parse_ContactPoints_ConfigDiscoveryOverTheList()
    {
        var config = NodeOptions.Parse(["--hostname", "127.0.0.1", "--contact-points", "127.0.0.1:8558, 127.0.0.2:8558", "--management-port", "8558"]).Config;

        Assert.Equal("config", config.GetString("sslcluster.node.bootstrap.discovery"));
        Assert.Equal(["127.0.0.1:8558", "127.0.0.2:8558"], config.GetStringList("sslcluster.node.bootstrap.contact-points"));
        Assert.Equal(FormationMethod.Config, ClusterFormation.Resolve(config).Method);
    }

    [Theory]
    [InlineData("--contact-points", "127.0.0.1", "HOST:PORT")]
    [InlineData("--contact-points", ",", "HOST:PORT,HOST:PORT")]
    [InlineData("--discovery", "dns", "kubernetes or config")]
    [InlineData("--management-port", "70000", "from 1 to 65535")]
    public void Parse_BadBootstrapOption_SaysWhatItTakes(string option, string value, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => NodeOptions.Parse([option, value]));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
