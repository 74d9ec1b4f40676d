using Akka.Actor;
using SslCluster.Actors.Serialization;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;

namespace SslCluster.Actors.ConfigStore;

/// <summary>A file of the certificate store as the journal keeps it: private keys arrive here already sealed.</summary>
public sealed record StoredFile(string Name, StoredFileKind Kind, byte[] Payload)
{
    /// <summary>
    /// The largest file the store takes. A key or a certificate is 1-3 KB and a chain of ten under 20 KB; the bound
    /// keeps every file, and so every message that carries one, far below Akka's frame.
    /// </summary>
    public const int MaxBytes = 64 * 1024;

    public bool Equals(StoredFile? other) =>
        other is not null && Name == other.Name && Kind == other.Kind && Payload.AsSpan().SequenceEqual(other.Payload);

    public override int GetHashCode() => HashCode.Combine(Name, Kind, Payload.Length);
}

/// <summary>A configuration section (one object: <c>kind/name</c>) and its printed text, as a committed change holds it.</summary>
public sealed record SectionText(string Key, string Text);

/// <summary>
/// Messages of the configuration store, the single writer of the cluster's configuration and certificate store.
/// Commands are imperative, replies answer them, events (persisted) are past tense. Every message stays far below
/// Akka's frame whatever the size of the configuration: revisions travel as pages of changed entries and contents in
/// bounded chunks, large configuration text is uploaded in parts, and diagnostics are capped.
/// </summary>
public static class ConfigStoreProtocol
{
    /// <summary>Characters of configuration text per message (at most 6 bytes each once escaped in JSON).</summary>
    public const int MaxTextPerMessage = 8_000;

    // ---- commands and replies

    /// <summary>
    /// Apply configuration text on top of the running configuration; validated whole, all or nothing. Longer text is
    /// sent first as <see cref="ConfigTextPart"/>s of the same <paramref name="UploadId"/>; <paramref name="Text"/> is the last part.
    /// With <paramref name="Context"/> (an admin token limited to one SSLM context), the change is refused whole unless
    /// it changes that context's section alone, decided by the store against the configuration it holds.
    /// </summary>
    public sealed record ApplyConfig(string Text, string Source, bool StrictCiphers = false, Guid? UploadId = null, string? Context = null) : IClusterMessage;

    /// <summary>A part of the text of a coming <see cref="ApplyConfig"/>, acknowledged before the next is sent.</summary>
    public sealed record ConfigTextPart(Guid UploadId, int Index, string Text) : IClusterMessage;

    public sealed record ConfigTextPartReceived(Guid UploadId, int Index) : IClusterMessage;

    public sealed record ConfigApplied(long Revision, IReadOnlyList<ConfigDiagnostic> Diagnostics) : IClusterMessage;

    public sealed record ConfigRejected(IReadOnlyList<ConfigDiagnostic> Diagnostics) : IClusterMessage;

    /// <summary>The store's current revision (a read-your-writes check before a node answers from its own copy).</summary>
    public sealed record GetRevision : IClusterMessage
    {
        public static GetRevision Instance { get; } = new();
    }

    /// <summary>Add a file to the certificate store (a generated or imported key or certificate).</summary>
    public sealed record StoreFile(StoredFile File, bool Replace) : IClusterMessage;

    public sealed record FileStored(string Name, long Revision) : IClusterMessage;

    public sealed record FileRejected(string Name, string Reason) : IClusterMessage;

    public sealed record RemoveFile(string Name) : IClusterMessage;

    /// <summary>Be told <see cref="RevisionAvailable"/> now and after every change.</summary>
    public sealed record Subscribe(IActorRef Subscriber) : IClusterMessage;

    /// <summary>
    /// The store holds <paramref name="Revision"/>; a node behind it fetches the changes. <paramref name="Fingerprint"/>
    /// digests every entry of it: a node holding the same revision number with another fingerprint copied another store
    /// (another journal) and fetches everything again.
    /// </summary>
    public sealed record RevisionAvailable(long Revision, ulong Fingerprint = 0) : IClusterMessage;

    /// <summary>
    /// One page of what changed after <paramref name="Since"/>: of the store's latest revision when
    /// <paramref name="Revision"/> is null (the first page), of that revision afterwards.
    /// </summary>
    /// <remarks><paramref name="Transfer"/> is echoed in the answer, so that a late answer to an abandoned transfer is dropped.</remarks>
    public sealed record GetChanges(long Transfer, long Since, long? Revision, int From) : IClusterMessage;

    public sealed record Changes(long Transfer, ChangesPage Page) : IClusterMessage;

    /// <summary>The revision a transfer pinned is no longer kept: start again from the latest.</summary>
    public sealed record ChangesUnavailable(long Transfer, long Revision, long Latest) : IClusterMessage;

    /// <summary>Contents by digest, from revision <paramref name="Revision"/> (or a later one that still holds them).</summary>
    public sealed record GetContents(long Transfer, long Revision, IReadOnlyList<BlobRequest> Requests) : IClusterMessage;

    public sealed record Contents(long Transfer, IReadOnlyList<BlobChunk> Chunks, IReadOnlyList<string> Missing) : IClusterMessage;

    /// <summary>Asked of a node's follower: the revision it holds and the store's as it last heard (for <c>cluster show</c>).</summary>
    public sealed record GetNodeRevision : IClusterMessage
    {
        public static GetNodeRevision Instance { get; } = new();
    }

    /// <param name="BehindMilliseconds">How long the node has been behind the store's revision; 0 when it is not.</param>
    public sealed record NodeRevision(long Revision, long StoreRevision, long BehindMilliseconds) : IClusterMessage;

    // ---- events

    /// <summary>A committed configuration change: the sections it set (printed text) and the ones it removed.</summary>
    public sealed record ConfigChanged(long Revision, IReadOnlyList<SectionText> Sections, IReadOnlyList<string> Removed, string AppliedText,
        string Source, DateTimeOffset At) : IClusterMessage;

    /// <summary>A committed change as journals before the distribution protocol held it: the whole printed configuration.</summary>
    public sealed record ConfigCommitted(long Revision, string RunningConfigText, string AppliedText, string Source, DateTimeOffset At) : IClusterMessage;

    public sealed record FileAdded(long Revision, StoredFile File, DateTimeOffset At) : IClusterMessage;

    public sealed record FileRemoved(long Revision, string Name, DateTimeOffset At) : IClusterMessage;

    /// <summary>
    /// Diagnostics that fit one message: messages cut to 1,000 characters, and as many diagnostics (errors first) as fit
    /// in about 60,000 bytes of JSON at worst (every character escaped), with a last line counting the rest.
    /// </summary>
    public static IReadOnlyList<ConfigDiagnostic> Bounded(IReadOnlyList<ConfigDiagnostic> diagnostics)
    {
        ArgumentNullException.ThrowIfNull(diagnostics);
        const int budget = 60_000;
        static string Cut(string s, int max) => s.Length <= max ? s : s[..max] + "...";
        static int Cost(ConfigDiagnostic d) => Worst(d.Message) + Worst(d.Word ?? "") + 80;
        static int Worst(string s)
        {
            var n = 0;
            foreach (var c in s) n += c is >= ' ' and < (char)127 and not '"' and not '\\' and not '<' and not '>' and not '&' and not '\'' and not '+' and not '`' ? 1 : 6;
            return n;
        }
        var ordered = diagnostics.OrderBy(d => d.Severity == DiagnosticSeverity.Error ? 0 : 1)
            .Select(d => d with { Message = Cut(d.Message, 1_000), Word = d.Word is null ? null : Cut(d.Word, 100) }).ToList();
        var kept = new List<ConfigDiagnostic>();
        var used = 0;
        foreach (var d in ordered)
        {
            var cost = Cost(d);
            if (used + cost > budget) break;
            kept.Add(d);
            used += cost;
        }
        if (kept.Count < ordered.Count)
        {
            var rest = ordered.Skip(kept.Count).ToList();
            var errors = rest.Count(d => d.Severity == DiagnosticSeverity.Error);
            kept.Add(new ConfigDiagnostic(errors > 0 ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning, 0, null,
                $"{rest.Count} more diagnostic(s) not shown ({errors} error(s)); fix the ones above and apply again"));
        }
        return kept;
    }
}
