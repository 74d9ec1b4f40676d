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
