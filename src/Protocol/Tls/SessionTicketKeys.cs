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
/// The ticket keys a node holds and the ticket format built on them. Every node of a cluster installs the same keys
/// (the cluster's ticket-key owner creates and rotates them), so a ticket issued by one node opens on every other.
/// Thread-safe: connections seal and open concurrently while a rotation installs keys.
/// <code>
/// ticket    = key name (16) | nonce (12) | AES-256-GCM(plaintext, aad = key name) | tag (16)
/// plaintext = format (1) = 1 | expires-at, unix seconds (8) | binding key length (2) | binding key (UTF-8)
///           | session (the bytes of TlsSessionCodec)
/// </code>
/// The binding key inside the encrypted part makes a ticket resume only under the ssl-server (and client-auth
/// scope) that issued it; the expiry makes it die with the ssl-server's session timeout whatever the client keeps.
/// </summary>
public sealed class SessionTicketKeys
{
    private const byte Format = 1;
    private const int NonceLength = 12;
    private const int TagLength = 16;
    private const int Overhead = TicketKey.NameLength + NonceLength + TagLength;
    private const int PlainHeader = 1 + 8 + 2;

    /// <summary>RFC 5077 3.3: a ticket is at most 65535 bytes.</summary>
    private const int MaxTicketLength = ushort.MaxValue;

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

    /// <summary>Tickets sealed by this node.</summary>
    public long Issued => Interlocked.Read(ref _issued);

    /// <summary>Tickets this node opened (issued here or by any other node).</summary>
    public long Opened => Interlocked.Read(ref _opened);

    /// <summary>Tickets refused: unknown or retired key, damaged, of another ssl-server, or expired.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Counts a ticket sealed or looked up by an engine that seals tickets itself (OpenSSL, through these keys): opened
    /// means its key was found here, refused that it was not.
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
    /// Encrypts <paramref name="session"/> into a ticket for <paramref name="bindingKey"/>, valid for
    /// <paramref name="lifetime"/>; null when no key is current (the server then offers no ticket) or the session
    /// is too large for a ticket.
    /// </summary>
    public byte[]? Seal(string bindingKey, TimeSpan lifetime, ReadOnlySpan<byte> session)
    {
        ArgumentNullException.ThrowIfNull(bindingKey);
        var now = _time.GetUtcNow();
        if (lifetime <= TimeSpan.Zero || Current(now) is not { } key) return null;
        var binding = Encoding.UTF8.GetBytes(bindingKey);
        int plainLength = PlainHeader + binding.Length + session.Length;
        if (binding.Length > ushort.MaxValue || plainLength + Overhead > MaxTicketLength) return null;

        var plain = new byte[plainLength];
        try
        {
            plain[0] = Format;
            BinaryPrimitives.WriteInt64BigEndian(plain.AsSpan(1), (now + lifetime).ToUnixTimeSeconds());
            BinaryPrimitives.WriteUInt16BigEndian(plain.AsSpan(9), (ushort)binding.Length);
            binding.CopyTo(plain, PlainHeader);
            session.CopyTo(plain.AsSpan(PlainHeader + binding.Length));

            var ticket = new byte[plainLength + Overhead];
            var name = ticket.AsSpan(0, TicketKey.NameLength);
            key.Name.CopyTo(name);
            var nonce = ticket.AsSpan(TicketKey.NameLength, NonceLength);
            RandomNumberGenerator.Fill(nonce);
            using var aes = new AesGcm(key.Secret, TagLength);
            aes.Encrypt(nonce, plain, ticket.AsSpan(TicketKey.NameLength + NonceLength, plainLength),
                ticket.AsSpan(ticket.Length - TagLength), name);
            Interlocked.Increment(ref _issued);
            return ticket;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    /// <summary>
    /// Opens a ticket issued for <paramref name="bindingKey"/> that has not expired, giving the session bytes (the
    /// caller clears them). False for a ticket of an unknown or retired key, a forged or damaged one, one of another
    /// ssl-server, or an expired one: the client then gets a full handshake.
    /// </summary>
    public bool TryOpen(ReadOnlySpan<byte> ticket, string bindingKey, out byte[] session)
    {
        ArgumentNullException.ThrowIfNull(bindingKey);
        session = [];
        if (ticket.Length <= Overhead + PlainHeader)
        {
            Interlocked.Increment(ref _refused);
            return false;
        }
        var now = _time.GetUtcNow();
        var name = ticket[..TicketKey.NameLength];
        TicketKey? key = null;
        foreach (var candidate in Volatile.Read(ref _keys))
        {
            if (candidate.AcceptUntil > now && candidate.Name.AsSpan().SequenceEqual(name))
            {
                key = candidate;
                break;
            }
        }
        if (key is null)
        {
            Interlocked.Increment(ref _refused);
            return false;
        }

        int plainLength = ticket.Length - Overhead;
        var plain = new byte[plainLength];
        bool keep = false;
        try
        {
            using (var aes = new AesGcm(key.Secret, TagLength))
            {
                try
                {
                    aes.Decrypt(ticket.Slice(TicketKey.NameLength, NonceLength),
                        ticket.Slice(TicketKey.NameLength + NonceLength, plainLength), ticket[^TagLength..], plain, name);
                }
                catch (AuthenticationTagMismatchException)
                {
                    return false;
                }
            }

            if (plain[0] != Format) return false;
            var expires = DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadInt64BigEndian(plain.AsSpan(1)));
            int bindingLength = BinaryPrimitives.ReadUInt16BigEndian(plain.AsSpan(9));
            if (expires <= now || PlainHeader + bindingLength >= plainLength) return false;
            if (!Encoding.UTF8.GetBytes(bindingKey).AsSpan().SequenceEqual(plain.AsSpan(PlainHeader, bindingLength))) return false;

            session = plain.AsSpan(PlainHeader + bindingLength).ToArray();
            keep = true;
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
            if (!keep) session = [];
            Interlocked.Increment(ref keep ? ref _opened : ref _refused);
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
