using System.Collections.Immutable;
using System.Text;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Actors.ConfigStore;

/// <summary>Checks a key file against a certificate file; supplied by the PKI layer.</summary>
public delegate string? KeyCertificateCheck(StoredFile key, StoredFile certificate);

/// <summary>
/// The configuration store's state and decisions, without an actor: commands become events, events change state.
/// The running configuration is kept as a model, the store files by name, and the <see cref="StoreManifest"/> that
/// the nodes copy from: every section and file by digest, with the revision that last changed it.
/// </summary>
public sealed record ConfigStoreState
{
    public static ConfigStoreState Empty { get; } = new();

    public long Revision { get; init; }

    public RunningConfig Config { get; init; } = RunningConfig.Empty;

    public ImmutableSortedDictionary<string, StoredFile> Files { get; init; } = ImmutableSortedDictionary.Create<string, StoredFile>(StringComparer.Ordinal);

    public StoreManifest Manifest { get; init; } = StoreManifest.Empty;

    /// <summary>Decides an <see cref="ApplyConfig"/> (whose whole text is <paramref name="text"/>): the event to persist, or the reasons to refuse.</summary>
    public (ConfigChanged? Event, IReadOnlyList<ConfigDiagnostic> Diagnostics) Decide(ApplyConfig command, string text, KeyCertificateCheck check, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(text);
        var view = new StoreView(Files, check);
        var result = ConfigParser.Apply(Config, text, new ConfigOptions { StrictCiphers = command.StrictCiphers }, view);
        if (!result.Succeeded) return (null, result.Diagnostics);
        var diagnostics = result.Diagnostics;
        if (result.Config!.Contexts.Count > 0)
        {
            // A chain this change breaks refuses it; one broken before stays a warning, never blocking the change.
            var after = ConfigValidator.ChainProblems(result.Config, view);
            var broken = NewlyBroken(after, () => ConfigValidator.ChainProblems(Config, view));
            if (broken.Count > 0) return (null, [.. diagnostics, .. broken.Select(m => new ConfigDiagnostic(DiagnosticSeverity.Error, 0, null, m))]);
            diagnostics = [.. diagnostics, .. after.Values.Select(m => new ConfigDiagnostic(DiagnosticSeverity.Warning, 0, null, m))];
        }

        var (changed, removed) = ConfigSections.Diff(Config, result.Config!);
        if (command.Context is { } scope)
        {
            // Decided here, against the configuration the store holds, not a node's copy that may lag behind it.
            var own = ConfigSections.Key(ConfigSections.Context, scope);
            var outside = changed.Select(c => c.Key).Concat(removed).Where(k => k != own).Distinct().Order(StringComparer.Ordinal).ToList();
            if (outside.Count > 0)
                return (null, [new ConfigDiagnostic(DiagnosticSeverity.Error, 0, null,
                    $"a token of ssl-proxy context {scope} may change that context only, and this text changes {string.Join(", ", outside.Take(5))}{(outside.Count > 5 ? $" and {outside.Count - 5} more" : "")}; nothing was changed")]);
        }
        return (new ConfigChanged(Revision + 1, [.. changed.Select(c => new SectionText(c.Key, c.Value))], removed, text, command.Source, now), diagnostics);
    }

    /// <summary>Decides an <see cref="ApplyConfig"/> whose text came whole in the command.</summary>
    public (ConfigChanged? Event, IReadOnlyList<ConfigDiagnostic> Diagnostics) Decide(ApplyConfig command, KeyCertificateCheck check, DateTimeOffset now) =>
        Decide(command, command.Text, check, now);

    /// <summary>Decides a <see cref="StoreFile"/>.</summary>
    public (FileAdded? Event, string? Reason) Decide(StoreFile command, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.File.Payload.Length > StoredFile.MaxBytes)
            return (null, $"'{command.File.Name}' is {command.File.Payload.Length:N0} bytes; the certificate store takes files up to {StoredFile.MaxBytes / 1024} KiB (a key or certificate is a few KB: split a long chain into its certificates)");
        if (Files.ContainsKey(command.File.Name) && !command.Replace)
            return (null, $"the certificate store already has a file named '{command.File.Name}'; choose another name or remove it first");
        return (new FileAdded(Revision + 1, command.File, now), null);
    }

    /// <summary>Decides a <see cref="RemoveFile"/>: refused while an association names the file.</summary>
    public (FileRemoved? Event, string? Reason) Decide(RemoveFile command, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (!Files.ContainsKey(command.Name))
            return (null, $"the certificate store has no file named '{command.Name}'");
        var user = Config.Associations.Values.FirstOrDefault(a => a.FileName == command.Name);
        if (user is not null)
            return (null, $"'{command.Name}' is associated as '{user.Name}'; remove the association first ('no ssl associate {ConfigWords.Kind(user.Kind)} {user.Name}')");
        var trustpoint = Config.Trustpoints.Values.FirstOrDefault(t => t.RsaKeyPair == command.Name || t.Chain.Any(c => SslmLowering.StoreFile(c.File) == command.Name));
        if (trustpoint is not null)
            return (null, $"'{command.Name}' is the key or a certificate of crypto pki trustpoint {trustpoint.Name}; take it out of the trustpoint first");
        // A CA certificate that completes an in-service SSLM service's chain (min-chain-length) stays while it does.
        if (Files[command.Name].Kind == StoredFileKind.Certificate && Config.Contexts.Count > 0)
        {
            var without = ConfigValidator.ChainProblems(Config, new StoreView(Files.Remove(command.Name), (_, _) => null));
            if (NewlyBroken(without, () => ConfigValidator.ChainProblems(Config, new StoreView(Files, (_, _) => null))) is [var broken, ..])
                return (null, $"'{command.Name}' completes a certificate chain in use: without it, {broken}");
        }
        return (new FileRemoved(Revision + 1, command.Name, now), null);
    }

    /// <summary>
    /// The min-chain-length problems in <paramref name="after"/> that the state before did not have (asked for only
    /// when there are any): what a change newly breaks.
    /// </summary>
    private static IReadOnlyList<string> NewlyBroken(IReadOnlyDictionary<string, string> after, Func<IReadOnlyDictionary<string, string>> before)
    {
        if (after.Count == 0) return [];
        var was = before();
        return [.. after.Where(p => !was.ContainsKey(p.Key)).Select(p => p.Value)];
    }

    public ConfigStoreState Apply(object @event) => @event switch
    {
        ConfigChanged e => ApplySections(e.Revision, e.Sections.Select(s => new KeyValuePair<string, string>(s.Key, s.Text)).ToList(), e.Removed),
        ConfigCommitted e => ApplyWhole(e),
        FileAdded e => this with
        {
            Revision = e.Revision,
            Files = Files.SetItem(e.File.Name, e.File),
            Manifest = Manifest.Commit(e.Revision, [(StoreManifest.FileKey(e.File.Name), e.File.Payload, e.File.Kind)], []),
        },
        FileRemoved e => this with
        {
            Revision = e.Revision,
            Files = Files.Remove(e.Name),
            Manifest = Manifest.Commit(e.Revision, [], [StoreManifest.FileKey(e.Name)]),
        },
        _ => throw new ArgumentException($"ConfigStoreState: not an event of the store: {@event.GetType().Name}", nameof(@event)),
    };

    /// <summary>A change as sections: parses only the sections it names.</summary>
    private ConfigStoreState ApplySections(long revision, IReadOnlyList<KeyValuePair<string, string>> sections, IReadOnlyList<string> removed)
    {
        var config = Config;
        foreach (var key in removed) config = ConfigSections.With(config, key, null);
        foreach (var (key, text) in sections) config = ConfigSections.With(config, key, text);
        return this with
        {
            Revision = revision,
            Config = config,
            Manifest = Manifest.Commit(revision, sections.Select(s => (s.Key, Encoding.UTF8.GetBytes(s.Value), (StoredFileKind?)null)), removed),
        };
    }

    /// <summary>An event of the older journal format: the whole configuration, compared with the current one.</summary>
    private ConfigStoreState ApplyWhole(ConfigCommitted e)
    {
        var next = ConfigParser.Reload(e.RunningConfigText);
        var (changed, removed) = ConfigSections.Diff(Config, next);
        return this with
        {
            Revision = e.Revision,
            Config = next,
            Manifest = Manifest.Commit(e.Revision, changed.Select(c => (c.Key, Encoding.UTF8.GetBytes(c.Value), (StoredFileKind?)null)), removed),
        };
    }

    /// <summary>The certificate store as the validator sees it.</summary>
    internal sealed class StoreView(ImmutableSortedDictionary<string, StoredFile> files, KeyCertificateCheck check) : ICertStoreView
    {
        public StoredFileKind? KindOf(string fileName) => files.TryGetValue(fileName, out var f) ? f.Kind : null;

        public string? MismatchReason(string keyFile, string certFile) => check(files[keyFile], files[certFile]);

        private IReadOnlyDictionary<string, byte[]>? _certificates;

        public (int Certificates, bool ReachesRoot)? ChainOf(string certFile)
        {
            if (!files.TryGetValue(certFile, out var file) || file.Kind != StoredFileKind.Certificate) return null;
            _certificates ??= files.Where(f => f.Value.Kind == StoredFileKind.Certificate).ToDictionary(f => f.Key, f => f.Value.Payload, StringComparer.Ordinal);
            try
            {
                return Protocol.Pki.IssuerIndex.Of(_certificates).ChainOf(Protocol.Pki.CertStoreFile.DecodeShared(file.Payload), DateTimeOffset.UtcNow);
            }
            catch (Protocol.Pki.PkiException)
            {
                return null;
            }
        }
    }
}
