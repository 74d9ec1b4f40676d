using Akka.Actor;
using SslCluster.Actors.Serialization;
using SslCluster.Protocol.Config;

namespace SslCluster.Actors.ConfigStore;

/// <summary>A file of the certificate store as the journal keeps it: private keys arrive here already sealed.</summary>
public sealed record StoredFile(string Name, StoredFileKind Kind, byte[] Payload)
{
    public bool Equals(StoredFile? other) =>
        other is not null && Name == other.Name && Kind == other.Kind && Payload.AsSpan().SequenceEqual(other.Payload);

    public override int GetHashCode() => HashCode.Combine(Name, Kind, Payload.Length);
}

/// <summary>
/// Messages of the configuration store, the single writer of the cluster's configuration and certificate store.
/// Commands are imperative, replies answer them, events (persisted) are past tense.
/// </summary>
public static class ConfigStoreProtocol
{
    // ---- commands and replies

    /// <summary>Apply configuration text on top of the running configuration; validated whole, all or nothing.</summary>
    public sealed record ApplyConfig(string Text, string Source, bool StrictCiphers = false) : IClusterMessage;

    public sealed record ConfigApplied(long Revision, IReadOnlyList<ConfigDiagnostic> Diagnostics) : IClusterMessage;

    public sealed record ConfigRejected(IReadOnlyList<ConfigDiagnostic> Diagnostics) : IClusterMessage;

    public sealed record GetRunningConfig : IClusterMessage
    {
        public static GetRunningConfig Instance { get; } = new();
    }

    public sealed record CurrentRunningConfig(long Revision, string Text) : IClusterMessage;

    /// <summary>Add a file to the certificate store (a generated or imported key or certificate).</summary>
    public sealed record StoreFile(StoredFile File, bool Replace) : IClusterMessage;

    public sealed record FileStored(string Name, long Revision) : IClusterMessage;

    public sealed record FileRejected(string Name, string Reason) : IClusterMessage;

    public sealed record RemoveFile(string Name) : IClusterMessage;

    public sealed record GetFile(string Name) : IClusterMessage;

    public sealed record CurrentFile(StoredFile? File) : IClusterMessage;

    public sealed record GetFiles : IClusterMessage
    {
        public static GetFiles Instance { get; } = new();
    }

    public sealed record CurrentFiles(IReadOnlyList<StoredFile> Files) : IClusterMessage;

    /// <summary>Receive <see cref="ConfigPublished"/> now and after every change.</summary>
    public sealed record Subscribe(IActorRef Subscriber) : IClusterMessage;

    /// <summary>One whole revision: the configuration (as printed text) and the certificate store.</summary>
    public sealed record ConfigPublished(long Revision, string RunningConfigText, IReadOnlyList<StoredFile> Files) : IClusterMessage;

    // ---- events

    public sealed record ConfigCommitted(long Revision, string RunningConfigText, string AppliedText, string Source, DateTimeOffset At) : IClusterMessage;

    public sealed record FileAdded(long Revision, StoredFile File, DateTimeOffset At) : IClusterMessage;

    public sealed record FileRemoved(long Revision, string Name, DateTimeOffset At) : IClusterMessage;
}
