using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using SslCluster.Protocol.Pki;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// A TLS session as it travels between nodes: the session ID, the binding key it is valid under, its absolute expiry
/// and the session bytes sealed with a <see cref="ClusterSeal"/> (the ID, binding key and expiry are
/// authenticated with them, so none can be changed in transit). The master secret is never in clear outside a node's
/// memory, even when remoting runs without TLS.
/// </summary>
public sealed record SessionReplica(byte[] Id, string BindingKey, DateTimeOffset ExpiresAt, byte[] Sealed);

/// <summary>
/// The session store of a cluster node: every lookup is local (it runs inside a handshake and must not wait for
/// the network), and every session stored here is handed to <see cref="Replicate"/> to be copied to the other
/// nodes, which take it with <see cref="Accept"/>. Full replication suits a chassis of a handful of nodes: a session
/// is about 150 bytes, a node holds at most its capacity, and losing a node loses no session (hitch's shared cache
/// makes the same choice). A node that joins catches up from a peer's <see cref="Export"/>.
/// </summary>
public sealed class ReplicatedTlsSessionStore : ITlsSessionStore
{
    private readonly LocalTlsSessionStore _local;
    private readonly TimeProvider _time;
    private readonly ClusterSeal _seal;
    private Action<SessionReplica>? _replicate;

    /// <param name="masterKey">The cluster's master key: every node derives the same replication key from it.</param>
    public ReplicatedTlsSessionStore(MasterKey masterKey, TimeProvider time, int capacity = 20_000)
    {
        ArgumentNullException.ThrowIfNull(masterKey);
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _local = new LocalTlsSessionStore(time, capacity);
        _seal = new ClusterSeal(masterKey, "tls sessions v1");
    }

    /// <summary>Sessions held on this node (own and replicated), expired ones included until touched.</summary>
    public int Count => _local.Count;

    /// <summary>Sessions this node created (full handshakes that issued a session ID).</summary>
    public long Created => Interlocked.Read(ref _created);

    /// <summary>Sessions taken from other nodes.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Replicas refused: damaged, sealed with another master key, or already expired.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    private long _created;
    private long _accepted;
    private long _refused;

    /// <summary>
    /// Receives every session created on this node, sealed, to copy to the other nodes. Called on the connection's
    /// thread: it must only enqueue (the node's replicator actor does the sending).
    /// </summary>
    public Action<SessionReplica>? Replicate
    {
        get => Volatile.Read(ref _replicate);
        set => Volatile.Write(ref _replicate, value);
    }

    /// <inheritdoc />
    public bool TryGet(ReadOnlySpan<byte> id, string bindingKey, out byte[] exportedParams) =>
        _local.TryGet(id, bindingKey, out exportedParams);

    /// <inheritdoc />
    public void Put(byte[] id, string bindingKey, byte[] exportedParams, TimeSpan ttl)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(bindingKey);
        ArgumentNullException.ThrowIfNull(exportedParams);
        var expiresAt = _time.GetUtcNow() + ttl;
        var replicate = Replicate;
        var replica = replicate is not null && ttl > TimeSpan.Zero ? Seal(id, bindingKey, expiresAt, exportedParams) : null;
        _local.PutUntil(id, bindingKey, exportedParams, expiresAt);
        if (ttl > TimeSpan.Zero) Interlocked.Increment(ref _created);
        if (replica is not null) replicate!(replica);
    }

    /// <summary>Stores a session another node created; false (and counted) when it is damaged, foreign or expired.</summary>
    public bool Accept(SessionReplica replica)
    {
        ArgumentNullException.ThrowIfNull(replica);
        if (replica.ExpiresAt <= _time.GetUtcNow() || Open(replica) is not { } session)
        {
            Interlocked.Increment(ref _refused);
            return false;
        }

        _local.PutUntil(replica.Id, replica.BindingKey, session, replica.ExpiresAt);
        Interlocked.Increment(ref _accepted);
        return true;
    }

    /// <summary>The newest <paramref name="max"/> live sessions, oldest of them first, sealed for a joining node.</summary>
    public IReadOnlyList<SessionReplica> Export(int max)
    {
        var sessions = _local.Snapshot(max);
        var replicas = new List<SessionReplica>(sessions.Count);
        foreach (var (id, bindingKey, session, expiresAt) in sessions)
        {
            replicas.Add(Seal(id, bindingKey, expiresAt, session));
            CryptographicOperations.ZeroMemory(session);
        }

        return replicas;
    }

    /// <summary>Drops expired sessions now.</summary>
    public int RemoveExpired() => _local.RemoveExpired();

    private SessionReplica Seal(byte[] id, string bindingKey, DateTimeOffset expiresAt, ReadOnlySpan<byte> session) =>
        new((byte[])id.Clone(), bindingKey, expiresAt, _seal.Seal(session, AssociatedData(id, bindingKey, expiresAt)));

    private byte[]? Open(SessionReplica replica) =>
        replica.Id is { Length: > 0 and <= 32 } && replica.BindingKey is not null && replica.Sealed is not null
            ? _seal.Open(replica.Sealed, AssociatedData(replica.Id, replica.BindingKey, replica.ExpiresAt))
            : null;

    private static byte[] AssociatedData(byte[] id, string bindingKey, DateTimeOffset expiresAt)
    {
        var binding = Encoding.UTF8.GetBytes(bindingKey);
        var aad = new byte[1 + id.Length + 8 + binding.Length];
        aad[0] = (byte)id.Length;
        id.CopyTo(aad, 1);
        BinaryPrimitives.WriteInt64BigEndian(aad.AsSpan(1 + id.Length), expiresAt.ToUnixTimeMilliseconds());
        binding.CopyTo(aad, 1 + id.Length + 8);
        return aad;
    }
}
