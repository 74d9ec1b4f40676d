using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Runtime;

/// <summary>
/// Encrypted keepalives (<c>keepalive type ssl</c>, <c>http encrypt</c>) go through the same TLS client as
/// re-encrypted flows: the backend-server's ciphers, client certificate (decrypted with the node's master key) and
/// cacert, on the node's OpenSSL engine, and the same handshake with its failures named by phase.
/// </summary>
public sealed partial class DataPlane : ITlsProbeConnector
{
    /// <summary>A probe that has not finished its handshake by then has failed (a CSS waits about as long).</summary>
    private static readonly TimeSpan ProbeHandshakeTimeout = TimeSpan.FromSeconds(10);

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
        // The same name check as the flows': the server-name, else the address dialled.
        var name = serverName ?? options.ServerName;
        var profile = new BackendTlsProfile($"probe/{endpoint}", suites, TlsVersion.Tls12, client, cas, TimeSpan.Zero, name)
        {
            ExpectedName = name ?? endpoint.Address.ToString(),
        };

        try
        {
            return await ConnectTlsAsync(endpoint, profile, ProbeHandshakeTimeout, ct);
        }
        finally
        {
            // The client key is loaded into the connection's own context: the probe's credential can go now.
            client?.Dispose();
        }
    }

    /// <summary>
    /// A TCP connection to <paramref name="endpoint"/> and the TLS handshake of <paramref name="profile"/> on this
    /// plane's OpenSSL client, as a re-encrypted flow makes it: the decrypted stream, or an
    /// <see cref="AuthenticationException"/> naming the failed phase.
    /// </summary>
    internal async Task<Stream> ConnectTlsAsync(IPEndPoint endpoint, BackendTlsProfile profile, TimeSpan handshakeTimeout, CancellationToken ct)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, ct);
            var (side, error, message) = await BackendTlsHandshake.RunAsync(socket, _engine.CreateClient(profile), handshakeTimeout, ct);
            if (side is null)
            {
                ct.ThrowIfCancellationRequested();
                throw new AuthenticationException($"{message} ({error})");
            }

            return new RelaySideStream(side, socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
