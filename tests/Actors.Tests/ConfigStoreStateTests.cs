using SslCluster.Actors.ConfigStore;
using SslCluster.Protocol.Config;
using Xunit;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Actors.Tests;

public sealed class ConfigStoreStateTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
    private static readonly KeyCertificateCheck AlwaysMatch = (_, _) => null;

    private static StoredFile File(string name, StoredFileKind kind) => new(name, kind, [1, 2, 3]);

    [Fact]
    public void Decide_ValidText_CommitsTheNextRevisionAsTheSectionsItChanged()
    {
        var (e, diagnostics) = ConfigStoreState.Empty.Decide(new ApplyConfig("service web\nip address 10.0.0.1\nactive", "test"), AlwaysMatch, Now);

        Assert.NotNull(e);
        Assert.Empty(diagnostics);
        Assert.Equal(1, e!.Revision);
        var section = Assert.Single(e.Sections);
        Assert.Equal("service/web", section.Key);
        Assert.Contains("ip address 10.0.0.1", section.Text, StringComparison.Ordinal);
        var state = ConfigStoreState.Empty.Apply(e);
        Assert.Equal(AdminState.Active, state.Config.Services["web"].State);
        Assert.Equal(1, state.Manifest.Entries["service/web"].ChangedAt);
    }

    [Fact]
    public void Decide_SmallChangeToBigConfiguration_CarriesOnlyTheChangedSection()
    {
        var text = string.Join("\n", Enumerable.Range(1, 300).Select(i => $"service s{i}\nip address 10.0.{i / 256}.{i % 256}\nactive"));
        var (first, _) = ConfigStoreState.Empty.Decide(new ApplyConfig(text, "t"), AlwaysMatch, Now);
        var state = ConfigStoreState.Empty.Apply(first!);

        var (e, _) = state.Decide(new ApplyConfig("service s7\nweight 5\nno service s9", "t"), AlwaysMatch, Now);

        Assert.Equal(["service/s7"], e!.Sections.Select(s => s.Key));
        Assert.Equal(["service/s9"], e.Removed);
        var after = state.Apply(e);
        Assert.Equal(5, after.Config.Services["s7"].Weight);
        Assert.False(after.Config.Services.ContainsKey("s9"));
        Assert.Equal(299, after.Config.Services.Count);
    }

    [Fact]
    public void Apply_LegacyWholeTextEvent_StillRecovers()
    {
        var state = ConfigStoreState.Empty.Apply(new ConfigCommitted(1, "service web\n  weight 3\n\n", "service web\nweight 3", "old", Now));

        Assert.Equal(3, state.Config.Services["web"].Weight);
        Assert.Equal(1, state.Manifest.Entries["service/web"].ChangedAt);
    }

    [Fact]
    public void Decide_FileOverTheSizeLimit_IsRefusedWithTheLimit()
    {
        var (e, reason) = ConfigStoreState.Empty.Decide(new StoreFile(new StoredFile("big.pem", StoredFileKind.Certificate, new byte[StoredFile.MaxBytes + 1]), false), Now);

        Assert.Null(e);
        Assert.Contains("up to 64 KiB", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_BadText_ProducesNoEventAndKeepsState()
    {
        var (e, diagnostics) = ConfigStoreState.Empty.Decide(new ApplyConfig("servce web", "test"), AlwaysMatch, Now);

        Assert.Null(e);
        Assert.Contains(diagnostics, d => d.Severity == DiagnosticSeverity.Error && d.Word == "servce");
    }

    [Fact]
    public void Decide_AssociationOfMissingFile_IsRejectedByTheStoreView()
    {
        var (e, diagnostics) = ConfigStoreState.Empty.Decide(new ApplyConfig("ssl associate rsakey k k.key", "test"), AlwaysMatch, Now);

        Assert.Null(e);
        Assert.Contains(diagnostics, d => d.Message.Contains("has no file 'k.key'", StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_AssociationOfWrongKind_IsRejected()
    {
        var state = ConfigStoreState.Empty.Apply(new FileAdded(1, File("c.pem", StoredFileKind.Certificate), Now));

        var (e, diagnostics) = state.Decide(new ApplyConfig("ssl associate rsakey k c.pem", "test"), AlwaysMatch, Now);

        Assert.Null(e);
        Assert.Contains(diagnostics, d => d.Message.Contains("is a certificate, not an RSA key", StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_KeyThatDoesNotFitCertificate_IsRejectedWithTheReason()
    {
        var state = ConfigStoreState.Empty
            .Apply(new FileAdded(1, File("k.key", StoredFileKind.RsaKey), Now))
            .Apply(new FileAdded(2, File("c.pem", StoredFileKind.Certificate), Now));
        var text = "ssl associate rsakey k k.key\nssl associate cert c c.pem\nssl-proxy-list p\nssl-server 1\nssl-server 1 rsakey k\nssl-server 1 rsacert c";

        var (e, diagnostics) = state.Decide(new ApplyConfig(text, "test"), (_, _) => "different public keys", Now);

        Assert.Null(e);
        Assert.Contains(diagnostics, d => d.Message.Contains("does not belong to certificate 'c' (different public keys)", StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_StoreFileTwice_IsRefusedUnlessReplacing()
    {
        var state = ConfigStoreState.Empty.Apply(new FileAdded(1, File("k.key", StoredFileKind.RsaKey), Now));

        var (again, reason) = state.Decide(new StoreFile(File("k.key", StoredFileKind.RsaKey), Replace: false), Now);
        var (replace, _) = state.Decide(new StoreFile(File("k.key", StoredFileKind.RsaKey), Replace: true), Now);

        Assert.Null(again);
        Assert.Contains("already has a file named 'k.key'", reason, StringComparison.Ordinal);
        Assert.NotNull(replace);
        Assert.Equal(2, replace!.Revision);
    }

    [Fact]
    public void Decide_RemoveAssociatedFile_IsRefused()
    {
        var state = ConfigStoreState.Empty.Apply(new FileAdded(1, File("k.key", StoredFileKind.RsaKey), Now));
        var (commit, _) = state.Decide(new ApplyConfig("ssl associate rsakey k k.key", "t"), AlwaysMatch, Now);
        state = state.Apply(commit!);

        var (e, reason) = state.Decide(new RemoveFile("k.key"), Now);

        Assert.Null(e);
        Assert.Contains("no ssl associate rsakey k", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssl-proxy context lab\n maxconns 30\n service s\n  virtual ipaddr 127.0.0.5 protocol tcp port 443", null)]
    [InlineData("ssl-proxy context Default\n maxconns 5", "ssl-proxy-context/Default")]
    [InlineData("crypto pki trustpoint t", "trustpoint/t")]
    [InlineData("service web\n ip address 127.0.0.9", "service/web")]
    [InlineData("ssl-proxy context lab2", "ssl-proxy-context/lab2")]
    [InlineData("no ssl-proxy context Default", "ssl-proxy-context/Default")]
    public void Decide_ContextScopedText_ItsContextCommittedAnythingElseRefusedNamingTheSections(string text, string? outside)
    {
        var (first, _) = ConfigStoreState.Empty.Decide(new ApplyConfig("ssl-proxy context lab\n maxconns 10\nssl-proxy context Default\n maxconns 20", "t"), AlwaysMatch, Now);
        var state = ConfigStoreState.Empty.Apply(first!);

        var (e, diagnostics) = state.Decide(new ApplyConfig(text, "t", Context: "lab"), AlwaysMatch, Now);

        if (outside is null)
        {
            Assert.NotNull(e);
            return;
        }
        Assert.Null(e);
        Assert.Contains(diagnostics, d => d.Message.Contains("may change that context only", StringComparison.Ordinal) && d.Message.Contains(outside, StringComparison.Ordinal));
    }

    /// <summary>A root, an intermediate it issued and a leaf the intermediate issued, as certificate store files.</summary>
    private static (StoredFile Root, StoredFile Intermediate, StoredFile Leaf) Chain()
    {
        using var chain = new SslCluster.TestSupport.TestChain("Chain");
        var now = DateTimeOffset.UtcNow;
        StoredFile Cert(string name, byte[] der) => new(name, StoredFileKind.Certificate, SslCluster.Protocol.Pki.CertStoreFile.FromCertificate(name, der, now).Encode());
        return (Cert("root.pem", chain.Root.RawData), Cert("inter.pem", chain.Intermediate.RawData), Cert("leaf.pem", chain.Leaf("www.chain.test")));
    }

    private const string ChainService = """
        crypto pki trustpoint web
         rsakeypair k.key
        crypto pki certificate chain web
         certificate 01 leaf.pem
        ssl-proxy context Default
         service s
          virtual ipaddr 127.0.0.40 protocol tcp port 443
          server ipaddr 127.0.0.41 protocol tcp port 80
          certificate rsa general-purpose trustpoint web
          inservice
        """;

    [Fact]
    public void Decide_SslmServiceChainShortOfARoot_RefusedUnlessMinChainLengthAllowsIt()
    {
        var (_, inter, leaf) = Chain();
        var state = new[] { File("k.key", StoredFileKind.RsaKey), inter, leaf }
            .Aggregate(ConfigStoreState.Empty, (s, f) => s.Apply(new FileAdded(s.Revision + 1, f, Now)));

        var (refused, why) = state.Decide(new ApplyConfig(ChainService, "t"), AlwaysMatch, Now);
        var (accepted, _) = state.Decide(new ApplyConfig(ChainService + "\ncrypto pki trustpoint web\n min-chain-length 2", "t"), AlwaysMatch, Now);
        var (tooShort, shortWhy) = state.Decide(new ApplyConfig(ChainService + "\ncrypto pki trustpoint web\n min-chain-length 3", "t"), AlwaysMatch, Now);

        Assert.Null(refused);
        Assert.Contains(why, d => d.Message.Contains("is 2 certificate(s) in the store and does not reach a self-signed root CA", StringComparison.Ordinal));
        Assert.NotNull(accepted);
        Assert.Null(tooShort);
        Assert.Contains(shortWhy, d => d.Message.Contains("shorter than its min-chain-length 3", StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_ChainBrokenBeforeTheRule_AnUnrelatedChangeCommitsWithAWarning()
    {
        var (_, inter, leaf) = Chain();
        var state = new[] { File("k.key", StoredFileKind.RsaKey), inter, leaf }
            .Aggregate(ConfigStoreState.Empty, (s, f) => s.Apply(new FileAdded(s.Revision + 1, f, Now)));
        // Committed as a journal of an earlier release would hold it: without the chain check.
        var parsed = ConfigParser.Parse(ChainService).Config!;
        state = state.Apply(new ConfigChanged(state.Revision + 1, [.. ConfigSections.Split(parsed).Select(kv => new SectionText(kv.Key, kv.Value))], [], ChainService, "t", Now));

        var (e, diagnostics) = state.Decide(new ApplyConfig("service web\n ip address 127.0.0.9", "t"), AlwaysMatch, Now);

        Assert.NotNull(e);
        Assert.Contains(diagnostics, d => d.Severity == DiagnosticSeverity.Warning && d.Message.Contains("does not reach a self-signed root", StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_RemoveTheRootOfAnSslmServicesChain_RefusedWhileItCompletesTheChain()
    {
        var (root, inter, leaf) = Chain();
        var state = new[] { File("k.key", StoredFileKind.RsaKey), root, inter, leaf }
            .Aggregate(ConfigStoreState.Empty, (s, f) => s.Apply(new FileAdded(s.Revision + 1, f, Now)));
        var (commit, diagnostics) = state.Decide(new ApplyConfig(ChainService, "t"), AlwaysMatch, Now);
        Assert.True(commit is not null, string.Join("\n", diagnostics));
        state = state.Apply(commit);

        var (removed, reason) = state.Decide(new RemoveFile("root.pem"), Now);
        var (other, _) = state.Apply(new FileAdded(state.Revision + 1, File("spare.pem", StoredFileKind.Certificate), Now)).Decide(new RemoveFile("spare.pem"), Now);

        Assert.Null(removed);
        Assert.Contains("'root.pem' completes a certificate chain in use", reason, StringComparison.Ordinal);
        Assert.NotNull(other);
    }

    [Fact]
    public void Apply_SnapshotRoundTrip_RestoresTheSameState()
    {
        var state = ConfigStoreState.Empty.Apply(new FileAdded(1, File("k.key", StoredFileKind.RsaKey), Now));
        var (commit, _) = state.Decide(new ApplyConfig("ssl associate rsakey k k.key\nservice web\nweight 3", "t"), AlwaysMatch, Now);
        state = state.Apply(commit!);

        var restored = ConfigStoreActor.StoreSnapshot.From(state).ToState();

        Assert.Equal(state.Revision, restored.Revision);
        Assert.Equal(state.Config, restored.Config);
        Assert.Equal(state.Files, restored.Files);
        Assert.Equal(state.Manifest.Entries, restored.Manifest.Entries);
    }

    [Fact]
    public void Apply_LegacySnapshot_RestoresTheConfigurationAndResetsLaggingNodes()
    {
        var legacy = new ConfigStoreActor.Snapshot(7, "service web\n  weight 3\n\n", [File("k.key", StoredFileKind.RsaKey)]);

        var restored = legacy.ToState();

        Assert.Equal(3, restored.Config.Services["web"].Weight);
        Assert.True(restored.Manifest.ChangesSince(5).Reset);
        Assert.Equal(2, restored.Manifest.Entries.Count);
    }
}
