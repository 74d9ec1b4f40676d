using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// One key of the cluster's TLS 1.2 session tickets (RFC 5077 4's recommended shape: a 16-byte key name and an
/// AES-256-GCM key). A key encrypts new tickets until <see cref="EncryptUntil"/> and opens them until
/// <see cref="AcceptUntil"/> (its last ticket's lifetime later). Keys are random, live in memory only and are
/// never derived from a long-lived secret, so losing the master key does not expose recorded sessions.
/// </summary>
public sealed record TicketKey(byte[] Name, byte[] Secret, DateTimeOffset CreatedAt, DateTimeOffset EncryptUntil, DateTimeOffset AcceptUntil)
{
    public const int NameLength = 16;
    public const int SecretLength = 32;

    /// <summary>The longest session lifetime an ssl-server may configure (session-cache 72000 s).</summary>
    public static readonly TimeSpan MaxTicketLifetime = TimeSpan.FromSeconds(72_000);

    /// <summary>A fresh random key, current for <paramref name="rotation"/>, accepted for a ticket lifetime more.</summary>
    public static TicketKey Create(DateTimeOffset now, TimeSpan rotation)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(rotation, TimeSpan.Zero);
        return new TicketKey(RandomNumberGenerator.GetBytes(NameLength), RandomNumberGenerator.GetBytes(SecretLength), now,
            now + rotation, now + rotation + MaxTicketLifetime);
    }

    /// <summary>Hex of the name, for logs (the name is public: it travels in every ticket).</summary>
    public string NameHex => Convert.ToHexStringLower(Name);

    public bool Equals(TicketKey? other) => other is not null && Name.AsSpan().SequenceEqual(other.Name);

    public override int GetHashCode() => BinaryPrimitives.ReadInt32LittleEndian(Name);

    /// <summary>This key with its secret sealed for the other nodes (<see cref="ClusterSeal"/>).</summary>
    public SealedTicketKey SealWith(Pki.ClusterSeal seal)
    {
        ArgumentNullException.ThrowIfNull(seal);
        return new SealedTicketKey(Name, seal.Seal(Secret, AssociatedData(Name, CreatedAt, EncryptUntil, AcceptUntil)),
            CreatedAt, EncryptUntil, AcceptUntil);
    }

    /// <summary>The key a node sealed, or null when it is damaged or sealed under another master key.</summary>
    public static TicketKey? Open(Pki.ClusterSeal seal, SealedTicketKey key)
    {
        ArgumentNullException.ThrowIfNull(seal);
        ArgumentNullException.ThrowIfNull(key);
        if (key.Name is not { Length: NameLength } || key.SealedSecret is null) return null;
        var secret = seal.Open(key.SealedSecret, AssociatedData(key.Name, key.CreatedAt, key.EncryptUntil, key.AcceptUntil));
        return secret is { Length: SecretLength } ? new TicketKey(key.Name, secret, key.CreatedAt, key.EncryptUntil, key.AcceptUntil) : null;
    }

    private static byte[] AssociatedData(byte[] name, DateTimeOffset createdAt, DateTimeOffset encryptUntil, DateTimeOffset acceptUntil)
    {
        var aad = new byte[NameLength + 24];
        name.CopyTo(aad, 0);
        BinaryPrimitives.WriteInt64BigEndian(aad.AsSpan(NameLength), createdAt.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteInt64BigEndian(aad.AsSpan(NameLength + 8), encryptUntil.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteInt64BigEndian(aad.AsSpan(NameLength + 16), acceptUntil.ToUnixTimeMilliseconds());
        return aad;
    }

    /// <summary>Never prints the secret.</summary>
    public override string ToString() => $"ticket key {NameHex} (created {CreatedAt:u}, current until {EncryptUntil:u})";
}

/// <summary>A ticket key as it travels between nodes: everything in clear but the secret.</summary>
public sealed record SealedTicketKey(byte[] Name, byte[] SealedSecret, DateTimeOffset CreatedAt, DateTimeOffset EncryptUntil, DateTimeOffset AcceptUntil);

/// <summary>
/// The ticket keys a node holds. Every node of a cluster installs the same keys (the cluster's ticket-key owner
/// creates and rotates them), so a ticket issued by one node opens on every other. OpenSSL seals and opens the tickets
/// (RFC 5077's recommended format: key name, IV, AES-256-CBC, HMAC-SHA256) with keys derived from a key's secret
/// (<see cref="OpenSslSessions"/>); the session inside carries the ssl-server's session-ID context, so a ticket only
/// resumes under the ssl-server (and client-auth scope) that issued it, and its lifetime is the ssl-server's
/// session timeout. Thread-safe: connections look keys up concurrently while a rotation installs keys.
/// </summary>
public sealed class SessionTicketKeys
{
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private TicketKey[] _keys = [];
    private long _issued;
    private long _opened;
    private long _refused;

    public SessionTicketKeys(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
    }

    /// <summary>Tickets issued by this node.</summary>
    public long Issued => Interlocked.Read(ref _issued);

    /// <summary>Tickets this node opened (issued here or by any other node).</summary>
    public long Opened => Interlocked.Read(ref _opened);

    /// <summary>Tickets refused: unknown or retired key, damaged, of another ssl-server, or expired.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Counts a ticket sealed or looked up by OpenSSL through these keys: opened means its key was found here, refused
    /// that it was not.
    /// </summary>
    internal void Count(bool issued = false, bool opened = false, bool refused = false)
    {
        if (issued)
        {
            Interlocked.Increment(ref _issued);
        }

        if (opened)
        {
            Interlocked.Increment(ref _opened);
        }

        if (refused)
        {
            Interlocked.Increment(ref _refused);
        }
    }

    /// <summary>The key that encrypts new tickets now, if any.</summary>
    public TicketKey? CurrentKey => Current(_time.GetUtcNow());

    /// <summary>True when a key may encrypt now: only then does the server offer tickets.</summary>
    public bool CanIssue => CurrentKey is not null;

    /// <summary>The keys held now (retired ones dropped), newest first.</summary>
    public IReadOnlyList<TicketKey> Keys
    {
        get
        {
            var now = _time.GetUtcNow();
            return Volatile.Read(ref _keys).Where(k => k.AcceptUntil > now).ToList();
        }
    }

    /// <summary>
    /// Adds keys (already known names are ignored) and drops retired ones. Called with the owner's whole list, so a
    /// node that missed a rotation catches up; keys it learned earlier stay until they retire, so tickets issued
    /// before an owner moved to another node still open.
    /// </summary>
    /// <returns>The number of keys that were new here.</returns>
    public int Install(IEnumerable<TicketKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            var held = Volatile.Read(ref _keys).Where(k => k.AcceptUntil > now).ToList();
            int added = 0;
            foreach (var key in keys)
            {
                if (key.Name.Length != TicketKey.NameLength || key.Secret.Length != TicketKey.SecretLength)
                    throw new ArgumentException($"{key} has a name or secret of the wrong length", nameof(keys));
                if (key.AcceptUntil <= now || held.Contains(key)) continue;
                held.Add(key);
                added++;
            }
            Volatile.Write(ref _keys, [.. held.OrderByDescending(k => k.CreatedAt)]);
            return added;
        }
    }

    /// <summary>
    /// How long a new key waits before it encrypts while an older key still may: the owner gives it to every node at
    /// once, and this lets every node have it before any node issues tickets that need it.
    /// </summary>
    public static readonly TimeSpan ActivationDelay = TimeSpan.FromSeconds(5);

    private TicketKey? Current(DateTimeOffset now)
    {
        TicketKey? fallback = null;
        foreach (var key in Volatile.Read(ref _keys))
        {
            if (key.EncryptUntil <= now) continue;
            // Newest first: the latest rotation wins once every node has had time to install it.
            if (key.CreatedAt + ActivationDelay <= now) return key;
            fallback ??= key;
        }

        return fallback;
    }
}
