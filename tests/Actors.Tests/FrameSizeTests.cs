using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using SslCluster.Actors.ConfigStore;
using SslCluster.Actors.Serialization;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using Xunit;
using Xunit.Abstractions;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Actors.Tests;

/// <summary>
/// No message of the configuration path comes near Akka's 128,000-byte frame, whatever the store holds: a big store
/// (thousands of files, 2,000 ssl-servers, a proxy list of 255 ssl-servers on one VIP) travels to a new node, and every
/// message of the transfer, serialized as remoting would, is measured.
/// </summary>
public sealed class FrameSizeTests(ITestOutputHelper output) : TestKit(InMemory)
{
    private const int Frame = 128_000;

    /// <summary>What the tests allow: well below the frame, whatever the configuration.</summary>
    private const int Limit = 100_000;

    private static readonly Config InMemory = ConfigurationFactory.ParseString("""
        akka.actor.provider = local
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """).WithFallback(SslClusterSettings.Reference);

    private int Size(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<ClusterMessageSerializer>(serializer);
        return serializer.ToBinary(message).Length;
    }

    /// <summary>The configuration text of <paramref name="pairs"/> key+certificate pairs in lists of 25 ssl-servers, plus one list of 255 on one VIP.</summary>
    internal static string BigConfiguration(int pairs)
    {
        var o = new StringBuilder();
        for (var i = 0; i < pairs; i++) o.Append($"ssl associate rsakey k{i} key{i}\nssl associate cert c{i} cert{i}\n");
        for (var i = 0; i < pairs; i++)
        {
            int n;
            string vip;
            if (i < 255)
            {
                if (i == 0) o.Append("ssl-proxy-list big\n");
                (n, vip) = (i + 1, "10.1.0.1");
            }
            else
            {
                var list = (i - 255) / 25;
                if ((i - 255) % 25 == 0) o.Append($"ssl-proxy-list list{list}\n");
                (n, vip) = ((i - 255) % 25 + 1, $"10.2.{list / 250}.{list % 250 + 1}");
            }
            o.Append($"ssl-server {n}\nssl-server {n} rsakey k{i}\nssl-server {n} rsacert c{i}\nssl-server {n} vip address {vip}\n");
            o.Append($"ssl-server {n} cipher ecdhe-rsa-with-aes-128-gcm-sha256 10.3.0.1 80\n");
            if (i == 254 || (i >= 255 && (i - 255) % 25 == 24) || i == pairs - 1) o.Append("active\n");
        }
        return o.ToString();
    }

    [Fact]
    public async Task Transfer_BigStore_EveryMessageFarBelowTheFrame()
    {
        const int pairs = 2_000;
        var store = Sys.ActorOf(ConfigStoreActor.Props((_, _) => null, TimeProvider.System));
        var random = new Random(7);
        var largest = new Dictionary<string, int>(StringComparer.Ordinal);
        void Measure(object m)
        {
            var size = Size(m);
            var name = m.GetType().Name;
            largest[name] = Math.Max(largest.GetValueOrDefault(name), size);
        }
        for (var i = 0; i < pairs; i++)
        {
            foreach (var (name, kind, size) in new[] { ($"key{i}", StoredFileKind.RsaKey, 1_300), ($"cert{i}", StoredFileKind.Certificate, 1_100) })
            {
                var bytes = new byte[size];
                random.NextBytes(bytes);
                var command = new StoreFile(new StoredFile(name, kind, bytes), false);
                Measure(command);
                await store.Ask<FileStored>(command);
            }
        }
        // The largest store file the store takes, and its worst-case configuration text part.
        var maxFile = new StoreFile(new StoredFile("chain.pem", StoredFileKind.Certificate, new byte[StoredFile.MaxBytes]), false);
        Measure(maxFile);
        await store.Ask<FileStored>(maxFile);
        Measure(new ConfigTextPart(Guid.NewGuid(), 0, new string('\u00e9', MaxTextPerMessage)));
        Measure(new ConfigTextPart(Guid.NewGuid(), 0, new string('"', MaxTextPerMessage)));

        var text = BigConfiguration(pairs);
        Assert.True(Encoding.UTF8.GetByteCount(text) > 3 * Frame, $"the configuration text ({Encoding.UTF8.GetByteCount(text):N0} bytes) is bigger than several frames");
        var applied = await ConfigStoreClient.ApplyAsync(store, text, "test", false, TimeSpan.FromSeconds(60));
        Assert.IsType<ConfigApplied>(applied);

        var replica = new ConfigReplica();
        var update = await ReplicaSync.RunAsync(store, replica, Measure);

        Assert.Equal(2 * pairs + 1, replica.Files.Count);
        Assert.Equal(255, replica.Config.ProxyLists["big"].SslServers.Count);
        Assert.Equal(pairs, replica.Config.ProxyLists.Values.Sum(l => l.SslServers.Count));
        foreach (var (name, size) in largest.OrderByDescending(l => l.Value)) output.WriteLine($"{name}: {size:N0} bytes");
        Assert.All(largest, l => Assert.True(l.Value < Limit, $"{l.Key} was {l.Value:N0} bytes; the limit is {Limit:N0} (frame {Frame:N0})"));
        Assert.True(update.ChangedKeys.Count > 2 * pairs);
    }

    [Fact]
    public void Bounded_ThousandsOfLongDiagnostics_FitFarBelowTheFrame()
    {
        var diagnostics = Enumerable.Range(0, 5_000)
            .Select(i => new ConfigDiagnostic(DiagnosticSeverity.Error, i, new string('w', 500), new string('m', 5_000))).ToList();

        var size = Size(new ConfigRejected(Bounded(diagnostics)));

        Assert.True(size < Limit, $"{size:N0} bytes");
    }

    [Fact]
    public void Answer_TenThousandConnectionsWithLongNames_TheOldestThousandInPartsEachFarBelowTheFrame()
    {
        var owner = "sslm@" + new string('c', 200) + "/" + new string('s', 200) + "@" + new string('c', 200);
        var connections = Enumerable.Range(0, 10_000)
            .Select(i => new SslCluster.Actors.Dispatch.ConnectionActor.Info(owner, i, $"[2001:db8::{i:x}]:{40000 + (i % 20000)}", SslCluster.Protocol.Runtime.ConnectionPhase.Relaying, TimeSpan.FromSeconds(i))
            {
                Vip = "[2001:db8:ffff:ffff:ffff:ffff:ffff:1]:443",
                Backend = $"[2001:db8:eeee:eeee:eeee:eeee:eeee:{i:x}]:8443",
                BytesFromClient = long.MaxValue,
                BytesToClient = long.MaxValue,
            });

        var rows = SslCluster.Actors.Dispatch.NodeStatsProtocol.Rows(connections);
        var parts = SslCluster.Actors.Dispatch.NodeStatsProtocol.Answer("akka.tcp://sslcluster@127.0.0.1:1", 10_000, rows);

        Assert.Equal(1_000, rows.Count);
        Assert.Equal(9_999, rows[0].Revision);
        Assert.Equal(rows, parts.SelectMany(p => p.Rows));
        Assert.All(parts, p => Assert.Equal((10_000, parts.Count), (p.Total, p.Parts)));
        Assert.Equal(Enumerable.Range(1, parts.Count), parts.Select(p => p.Part));
        var largest = parts.Max(p => Size(p));
        output.WriteLine($"{rows.Count} rows in {parts.Count} parts, the largest {largest:N0} bytes");
        Assert.True(largest < Limit, $"a part weighs {largest:N0} bytes");
    }

    [Fact]
    public void Answer_UsualNames_AThousandRowsInAFewPartsOfUpToRowBytes()
    {
        var connections = Enumerable.Range(0, 10_000)
            .Select(i => new SslCluster.Actors.Dispatch.ConnectionActor.Info("ssl2", 12, $"127.0.0.{i % 250}:{40000 + (i % 20000)}", SslCluster.Protocol.Runtime.ConnectionPhase.Relaying, TimeSpan.FromSeconds(i))
            {
                Vip = "127.0.0.1:443",
                Backend = "127.0.0.20:80",
                BytesFromClient = 123_456,
                BytesToClient = 12_345_678,
            });

        var rows = SslCluster.Actors.Dispatch.NodeStatsProtocol.Rows(connections);
        var parts = SslCluster.Actors.Dispatch.NodeStatsProtocol.Answer("akka.ssl.tcp://sslcluster@127.0.0.1:4100", 10_000, rows);

        Assert.Equal(rows, parts.SelectMany(p => p.Rows));
        Assert.InRange(parts.Count, 2, 6);
        Assert.InRange(Size(parts[0]), SslCluster.Actors.Dispatch.NodeStatsProtocol.RowBytes - 1_000, Limit);
    }

    [Fact]
    public void Answer_NoConnection_OneEmptyMessage()
    {
        var parts = SslCluster.Actors.Dispatch.NodeStatsProtocol.Answer("akka.tcp://sslcluster@127.0.0.1:1", 0, []);

        var only = Assert.Single(parts);
        Assert.Empty(only.Rows);
        Assert.Equal((1, 1), (only.Part, only.Parts));
    }

    [Fact]
    public void InheritFlows_ThreeThousandModuleRowsWithEveryTotal_TravelInPartsBelowTheFrame()
    {
        var totals = Enum.GetValues<SslCluster.Protocol.Net.ProxyError>().ToDictionary(SslCluster.Protocol.Runtime.StatNames.Ended, _ => long.MaxValue / 3);
        var rows = Enumerable.Range(0, 3000).Select(i => new SslCluster.Actors.Dispatch.NodeStatsProtocol.InheritedFlow(
            $"{new string('m', 60)}{i}@{new string('c', 40)}",
            new SslCluster.Protocol.Runtime.FlowRow($"10.{i / 256 % 256}.{i % 256}.1", 443, 0, 0, 0, long.MaxValue / 3, 5, 6, 7, 8, 9) { Totals = totals })).ToList();

        var parts = SslCluster.Actors.Dispatch.NodeStatsProtocol.Parts(rows).ToList();

        Assert.Equal(rows, parts.SelectMany(p => p));
        var largest = parts.Max(p => Size(new SslCluster.Actors.Dispatch.NodeStatsProtocol.InheritFlows("akka.ssl.tcp://sslcluster@10.200.200.200:4100", long.MaxValue, p)));
        output.WriteLine($"{rows.Count} rows in {parts.Count} parts, the largest {largest} bytes");
        Assert.True(largest < Limit, $"a part weighs {largest} bytes");
    }
}
