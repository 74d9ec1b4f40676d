using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using SslCluster.Actors.ConfigStore;
using SslCluster.Actors.Dispatch;
using SslCluster.Actors.Modules;
using SslCluster.Actors.Serialization;
using SslCluster.Actors.Health;
using SslCluster.Actors.Sessions;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Tls;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Actors.Tests;

public sealed class SettingsTests
{
    [Fact]
    public void Create_Defaults_MatchReferenceConf()
    {
        var s = SslClusterSettings.Create(ConfigurationFactory.Empty);

        Assert.Equal("data", s.DataDir);
        Assert.Equal("", s.AddressMap);
        Assert.Equal(("127.0.0.1", 9440), (s.AdminHost, s.AdminPort));
        Assert.False(s.DemoEnabled);
        Assert.Equal((8443, 8081, 8080), (s.DemoHttpsPort, s.DemoHttpPort, s.DemoBackendPort));
        Assert.Equal(16384, s.BufferSize);
        Assert.Equal(400, s.WarmUpConnections);
        Assert.True(s.FrameHttpByFirstBytes);
        Assert.Equal(TimeSpan.FromSeconds(5), s.BackendConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), s.DrainTimeout);
        Assert.Equal(1024, s.Backlog);
        Assert.Equal(TimeSpan.FromSeconds(1), s.FlowReportInterval);
        Assert.Equal(30, s.NumberOfShards);
    }

    [Fact]
    public void Create_FrameHttpByFirstBytesOff_FlowsNothingElseFramesAreRelayedAsTheyCome() =>
        Assert.False(SslClusterSettings.Create(ConfigurationFactory.ParseString("sslcluster.proxy.frame-http-by-first-bytes = off")).FrameHttpByFirstBytes);

    [Theory]
    [InlineData("sslcluster.proxy.buffer-size = 10", "buffer-size must be from 1024")]
    [InlineData("sslcluster.proxy.warm-up-connections = -1", "warm-up-connections must be from 0 (no warm-up) to 100000, not -1")]
    [InlineData("sslcluster.tls.ticket-key-rotation = 1m", "ticket-key-rotation must be from 15m to 1d")]
    [InlineData("sslcluster.tls.session-cache-size = 0", "session-cache-size must be from 1")]
    public void Create_BadValue_SaysWhichKeyAndWhatIsAllowed(string hocon, string fragment)
    {
        var e = Assert.Throws<ConfigurationException>(() => SslClusterSettings.Create(ConfigurationFactory.ParseString(hocon)));

        Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
    }
}

public sealed class SerializationTests : TestKit
{
    public SerializationTests() : base(SslClusterSettings.Reference.WithFallback(ConfigurationFactory.ParseString("akka.actor.provider = local")))
    {
    }

    public static TheoryData<object> Messages() =>
    [
        new ConfigStoreProtocol.ApplyConfig("service a", "test", true),
        NodeControlProtocol.Drain.Instance,
        NodeControlProtocol.GetServing.Instance,
        new NodeControlProtocol.Serving(12, true),
        new NodeControlProtocol.DrainStarted("akka.tcp://sslcluster@127.0.0.2:4100", false, 12, 30),
        new ConfigStoreProtocol.ConfigApplied(3, [new ConfigDiagnostic(DiagnosticSeverity.Warning, 2, "rc4", "why")]),
        new ConfigStoreProtocol.ConfigRejected([new ConfigDiagnostic(DiagnosticSeverity.Error, 0, null, "bad")]),
        new ConfigStoreProtocol.ConfigTextPart(Guid.Parse("6f1c1d3e-0000-4000-8000-000000000001"), 2, "service a"),
        new ConfigStoreProtocol.ConfigTextPartReceived(Guid.Parse("6f1c1d3e-0000-4000-8000-000000000001"), 2),
        new ConfigStoreProtocol.ConfigChanged(5, [new SectionText("service/a", "service a\n\n")], ["owner/o"], "service a", "sslctl", DateTimeOffset.UnixEpoch),
        new ConfigStoreProtocol.ConfigCommitted(5, "printed", "applied", "sslctl", DateTimeOffset.UnixEpoch),
        new ConfigStoreProtocol.FileAdded(6, new StoredFile("k", StoredFileKind.RsaKey, [9, 8, 7]), DateTimeOffset.UnixEpoch),
        new ConfigStoreProtocol.FileRemoved(7, "k", DateTimeOffset.UnixEpoch),
        new ConfigStoreProtocol.RevisionAvailable(8, 0xfeedfacecafebeef),
        new ConfigStoreProtocol.GetChanges(4, 3, 8, 120),
        new ConfigStoreProtocol.Changes(4, new ChangesPage(3, 8, false, [new ChangedEntry("file/c", "ab", 1, StoredFileKind.Certificate, [1]), new ChangedEntry("service/a", "cd", 9, null, null)], ["owner/o"], 2) { From = 1, Fingerprint = 0xfeedfacecafebeef }),
        new ConfigStoreProtocol.ChangesUnavailable(4, 8, 9),
        new ConfigStoreProtocol.GetContents(4, 8, [new BlobRequest("ab", 100)]),
        new ConfigStoreProtocol.Contents(4, [new BlobChunk("ab", 0, 3, [1, 2, 3])], ["cd"]),
        new ConfigStoreProtocol.NodeRevision(8, 9, 1500),
        ConfigStoreProtocol.GetNodeRevision.Instance,
        new ModuleProtocol.ReportFlows("ssl2", "node-a", [new FlowRow("10.0.0.1", 443, 1, 2, 3, 4, 5, 6, 7, 8, 9)]),
        new ModuleProtocol.ReportFlows("ssl2", "node-a", [], 77, [new RetiredNode("node-b", -5)]),
        new ModuleProtocol.CurrentModuleFlows("ssl2", [new FlowRow("v", 1, 1, 1, 1) { Totals = new Dictionary<string, long> { ["auth.Verified.ocsp"] = 3, ["hdr.requests"] = 7 } }], ["a"]),
        new SslCluster.Actors.Dispatch.NodeStatsProtocol.GetNodeConnections(1000),
        new SslCluster.Actors.Dispatch.NodeStatsProtocol.NodeConnections("akka.tcp://sslcluster@127.0.0.1:1", 3,
            [new SslCluster.Protocol.Admin.ConnectionRow("s1@Default", 4, "127.0.0.1:5000", "Relaying", 1.5)]),
        new SslCluster.Actors.Dispatch.NodeStatsProtocol.ClearNodeStats("s1@Default", "ssl"),
        new SslCluster.Actors.Dispatch.NodeStatsProtocol.NodeStatsCleared("akka.tcp://sslcluster@127.0.0.1:1", 2),
        new SslCluster.Actors.Dispatch.NodeStatsProtocol.InheritedFlow("m", new FlowRow("10.0.0.1", 443, 0, 0, 0, Accepted: 7) { Totals = new Dictionary<string, long> { ["ended.None"] = 7 } }),
        new SslCluster.Actors.Dispatch.NodeStatsProtocol.InheritFlows("akka.tcp://sslcluster@127.0.0.2:1", -4_000_000_000L,
            [new SslCluster.Actors.Dispatch.NodeStatsProtocol.InheritedFlow("m", new FlowRow("10.0.0.1", 443, 0, 0, 0, Accepted: 7) { ServerLeg = true })]),
        new SslCluster.Actors.Dispatch.NodeStatsProtocol.AdoptFlows("akka.tcp://sslcluster@127.0.0.2:1", 7, "m",
            [new FlowRow("10.0.0.1", 443, 0, 0, 0, Accepted: 7) { Totals = new Dictionary<string, long> { ["ended.None"] = 7 } }], true),
        new SslCluster.Actors.Dispatch.NodeStatsProtocol.FlowsInherited("akka.tcp://sslcluster@127.0.0.1:1", 1),
        new ConfigStoreActor.Snapshot(9, "text", [new StoredFile("c", StoredFileKind.Certificate, [1, 2])]),
        ConfigStoreProtocol.GetRevision.Instance,
        new ConfigStoreActor.StoreSnapshot(9, 2, [new ConfigStoreActor.SnapshotSection("service/a", "service a\n\n", 3)],
            [new ConfigStoreActor.SnapshotFile(new StoredFile("c", StoredFileKind.Certificate, [1, 2]), 4)], [new ConfigStoreActor.SnapshotRemoval("owner/o", 5)]),
        new ConfigStoreProtocol.StoreFile(new StoredFile("k", StoredFileKind.RsaKey, [1]), true),
        new ConfigStoreProtocol.FileStored("k", 10),
        new ConfigStoreProtocol.FileRejected("k", "exists"),
        new ConfigStoreProtocol.RemoveFile("k"),
        new ConfigStoreProtocol.Subscribe(ActorRefs.Nobody),
        new ModuleProtocol.GetModuleFlows("ssl2"),
        new ModuleProtocol.ClearModuleFlows("ssl2", "tcp"),
        new ModuleProtocol.ClearModuleFlows("s1@Default", null),
        new ModuleProtocol.ModuleFlowsCleared("ssl2", 3),
        new SessionProtocol.SessionsReplicated([new SessionReplica([1, 2, 3], "spl/1", DateTimeOffset.UnixEpoch.AddDays(1), [4, 5, 6])]),
        new SessionProtocol.SyncSessions(ActorRefs.Nobody),
        new BackendServerProtocol.EnsureKeepalive("service:web", 12),
        new BackendServerProtocol.KeepaliveReported("service:web", KeepaliveState.Start(DateTimeOffset.UnixEpoch) with
        {
            State = ServiceHealthState.Down, ConsecutiveFailures = 3, ProbesSent = 9, Failures = 3, LastFailureReason = "refused",
            LastFailureAt = DateTimeOffset.UnixEpoch.AddSeconds(9), LastModule = "ssl3", ModuleIndex = 1,
        }),
        new SessionProtocol.GetTicketKeys(ActorRefs.Nobody),
        new SessionProtocol.SessionsSynced(42),
        new SessionProtocol.TicketKeysPublished([new SealedTicketKey(new byte[16], [7, 8], DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddHours(1), DateTimeOffset.UnixEpoch.AddHours(2))]),
    ];

    [Fact]
    public void Messages_CoverEveryClusterMessageType()
    {
        var sampled = ((IEnumerable<object[]>)Messages()).Select(row => row[0].GetType()).ToHashSet();

        var missing = ClusterMessageSerializer.KnownTypes.Where(t => !sampled.Contains(t)).Select(t => t.FullName).Order().ToList();

        Assert.True(missing.Count == 0, "wire types without a round-trip sample: " + string.Join(", ", missing));
    }

    [Fact]
    public void EveryRecordOfAProtocolClass_IsAClusterMessage()
    {
        var protocols = ClusterMessageSerializer.MessageAssembly.GetTypes()
            .Where(t => t is { IsAbstract: true, IsSealed: true } && t.Name.EndsWith("Protocol", StringComparison.Ordinal));

        var unbound = protocols.SelectMany(p => p.GetNestedTypes())
            .Where(t => t.IsClass && !typeof(IClusterMessage).IsAssignableFrom(t))
            .Select(t => t.FullName).ToList();

        Assert.NotEmpty(protocols);
        Assert.True(unbound.Count == 0, "protocol messages that would have no serializer: " + string.Join(", ", unbound));
    }

    private sealed record NotAWireMessage(int Value);

    [Fact]
    public void FindSerializerFor_TypeWithoutBinding_ThrowsInsteadOfFallingBackToJson()
    {
        Assert.Throws<SerializationException>(() => Sys.Serialization.FindSerializerFor(new NotAWireMessage(1)));
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void ClusterMessageSerializer_EveryWireType_RoundTripsEqual(object message)
    {
        var serialization = Sys.Serialization;
        var serializer = serialization.FindSerializerFor(message);
        Assert.IsType<ClusterMessageSerializer>(serializer);

        var bytes = serializer.ToBinary(message);
        var back = serialization.Deserialize(bytes, serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, message));

        // Same type, and the same bytes when written again: nothing lost or changed on the way.
        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(bytes, serializer.ToBinary(back));
    }

    [Fact]
    public void ClusterMessageSerializer_SubscribeWithActorRef_ResolvesTheSameActor()
    {
        var probe = CreateTestProbe();
        var serializer = (ClusterMessageSerializer)Sys.Serialization.FindSerializerForType(typeof(ConfigStoreProtocol.Subscribe));
        var message = new ConfigStoreProtocol.Subscribe(probe.Ref);

        var back = (ConfigStoreProtocol.Subscribe)serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));

        Assert.Equal(probe.Ref.Path, back.Subscriber.Path);
    }

    [Fact]
    public void ClusterMessageSerializer_NodeConnectionsWithoutPartNumbers_ReadAsOnePartOfOne()
    {
        // What a member of an older version sends: one message, no part numbers.
        var message = new SslCluster.Actors.Dispatch.NodeStatsProtocol.NodeConnections("akka.tcp://sslcluster@127.0.0.1:1", 3,
            [new SslCluster.Protocol.Admin.ConnectionRow("ssl2", 7, "127.0.0.1:40000", "Relaying", 1.5)], 2, 5);
        var serializer = (ClusterMessageSerializer)Sys.Serialization.FindSerializerForType(message.GetType());
        var json = System.Text.Json.Nodes.JsonNode.Parse(serializer.ToBinary(message))!.AsObject();
        var removed = json.Select(p => p.Key).Where(k => k.Equals("Part", StringComparison.OrdinalIgnoreCase) || k.Equals("Parts", StringComparison.OrdinalIgnoreCase)).ToList();
        foreach (var key in removed) json.Remove(key);

        var back = (SslCluster.Actors.Dispatch.NodeStatsProtocol.NodeConnections)serializer.FromBinary(
            System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()), serializer.Manifest(message));

        Assert.Equal(2, removed.Count);
        Assert.Equal((1, 1, 3), (back.Part, back.Parts, back.Total));
        Assert.Equal("ssl2", Assert.Single(back.Rows).Owner);
    }

    [Fact]
    public void ClusterMessageSerializer_UnknownManifest_ThrowsSerializationException()
    {
        var serializer = (ClusterMessageSerializer)Sys.Serialization.FindSerializerForType(typeof(ConfigStoreProtocol.Subscribe));

        Assert.Throws<SerializationException>(() => serializer.FromBinary([], "Nope.Unknown"));
    }
}

public sealed class BackendServerKeyTests
{
    [Theory]
    [InlineData(KeepaliveOwner.Service, "web", "service:web")]
    [InlineData(KeepaliveOwner.Global, "sslkal", "keepalive:sslkal")]
    [InlineData(KeepaliveOwner.Service, "name:with:colons", "service:name:with:colons")]
    public void KeyOf_Parse_RoundTrip(KeepaliveOwner owner, string name, string id)
    {
        var key = new KeepaliveKey(owner, name);

        Assert.Equal(id, BackendServerProtocol.KeyOf(key));
        Assert.Equal(key, BackendServerProtocol.Parse(id));
    }

    [Fact]
    public void Parse_NotAKeepaliveId_Null() => Assert.Null(BackendServerProtocol.Parse("ssl3"));
}
