using System.Net;
using System.Net.Sockets;
using Org.BouncyCastle.Tls;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Runtime;

/// <summary>
/// Encrypted keepalives (<c>keepalive type ssl</c>, <c>http encrypt</c>) go through the same TLS client as
/// re-encrypted flows: the backend-server's ciphers, client certificate (decrypted with the node's master key) and
/// cacert, the same native crypto and certificate cache. Blocking BouncyCastle over a NetworkStream is enough for a
/// probe every few seconds, and gives the probe a plain Stream.
/// </summary>
public sealed partial class DataPlane : ITlsProbeConnector
{
    private IReadOnlyDictionary<string, byte[]> _latestFiles = new Dictionary<string, byte[]>();

    public async Task<Stream> ConnectAsync(IPEndPoint endpoint, string? serverName, TlsProbeOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(options);
        var files = Volatile.Read(ref _latestFiles);
        var who = $"keepalive to {endpoint}";
        ServerCredential? client = null;
        if (options.ClientKeyFile is { } k && options.ClientCertificateFile is { } c && files.TryGetValue(k, out var key) && files.TryGetValue(c, out var cert))
            client = Credential(Pki.CertStoreFile.DecodeShared(key), Pki.CertStoreFile.DecodeShared(cert), leases: null);
        var cas = options.CaCertificateFile is { } ca ? new[] { ClientAuthPolicies.Certificate(files, ca, who, "cacert") } : null;
        var suites = SuiteIdsOf(options.Ciphers.SelectMany(n => Config.CipherCatalog.TryGet(n, out var info) ? info.IanaSuites : []));
        // Probes never reuse sessions: each one must prove that a full handshake still works.
        var profile = new BackendTlsProfile($"probe/{endpoint}", suites, TlsVersion.Tls12, client, cas, TimeSpan.Zero, serverName);

        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, ct);
            var protocol = new TlsClientProtocol(new NetworkStream(socket, ownsSocket: true));
            using var registration = ct.Register(socket.Dispose);
            await Task.Run(() => protocol.Connect(_engine.CreateBouncyCastleClient(profile)), ct);
            return protocol.Stream;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        finally
        {
            // The client key signs during the handshake only: the probe's own credential goes as soon as it is done.
            client?.Dispose();
        }
    }
}
