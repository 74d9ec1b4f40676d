using System.Collections.Immutable;
using SslCluster.Protocol.Config;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Actors.ConfigStore;

/// <summary>Checks a key file against a certificate file; supplied by the PKI layer.</summary>
public delegate string? KeyCertificateCheck(StoredFile key, StoredFile certificate);

/// <summary>
/// The configuration store's state and decisions, without an actor: commands become events, events change state.
/// The running configuration is kept both as a model and as the printed text that the journal holds.
/// </summary>
public sealed record ConfigStoreState
{
    public static ConfigStoreState Empty { get; } = new();

    public long Revision { get; init; }

    public RunningConfig Config { get; init; } = RunningConfig.Empty;

    public string Text { get; init; } = string.Empty;

    public ImmutableSortedDictionary<string, StoredFile> Files { get; init; } = ImmutableSortedDictionary<string, StoredFile>.Empty;

    /// <summary>Decides an <see cref="ApplyConfig"/>: the event to persist, or the reasons to refuse.</summary>
    public (ConfigCommitted? Event, IReadOnlyList<ConfigDiagnostic> Diagnostics) Decide(ApplyConfig command, KeyCertificateCheck check, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(command);
        var result = ConfigParser.Apply(Config, command.Text, new ConfigOptions { StrictCiphers = command.StrictCiphers }, new StoreView(Files, check));
        if (!result.Succeeded) return (null, result.Diagnostics);
        var text = ConfigPrinter.Print(result.Config!);
        return (new ConfigCommitted(Revision + 1, text, command.Text, command.Source, now), result.Diagnostics);
    }

    /// <summary>Decides a <see cref="StoreFile"/>.</summary>
    public (FileAdded? Event, string? Reason) Decide(StoreFile command, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(command);
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
        return (new FileRemoved(Revision + 1, command.Name, now), null);
    }

    public ConfigStoreState Apply(object @event) => @event switch
    {
        ConfigCommitted e => this with { Revision = e.Revision, Text = e.RunningConfigText, Config = ConfigParser.Reload(e.RunningConfigText) },
        FileAdded e => this with { Revision = e.Revision, Files = Files.SetItem(e.File.Name, e.File) },
        FileRemoved e => this with { Revision = e.Revision, Files = Files.Remove(e.Name) },
        _ => throw new ArgumentException($"ConfigStoreState: not an event of the store: {@event.GetType().Name}", nameof(@event)),
    };

    public ConfigPublished Published() => new(Revision, Text, Files.Values.ToList());

    /// <summary>The certificate store as the validator sees it.</summary>
    internal sealed class StoreView(ImmutableSortedDictionary<string, StoredFile> files, KeyCertificateCheck check) : ICertStoreView
    {
        public StoredFileKind? KindOf(string fileName) => files.TryGetValue(fileName, out var f) ? f.Kind : null;

        public string? MismatchReason(string keyFile, string certFile) => check(files[keyFile], files[certFile]);
    }
}
