using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Health;

/// <summary>
/// What a backend-server says about the TLS of an encrypted keepalive: its cipher lines, and its client certificate,
/// key and CA certificate with association names already resolved to files of the certificate store.
/// </summary>
public sealed record TlsProbeOptions
{
    public static TlsProbeOptions Default { get; } = new();

    public ValueList<string> Ciphers { get; init; } = ValueList<string>.Empty;

    public string? ClientCertificateFile { get; init; }

    public string? ClientKeyFile { get; init; }

    /// <summary>When set, the server's chain must end at this CA; otherwise any certificate is accepted, as a CSS does.</summary>
    public string? CaCertificateFile { get; init; }

    /// <summary>The backend-server's <c>server-name</c>: sent as SNI and, under a CA, the name the certificate must carry.</summary>
    public string? ServerName { get; init; }
}

/// <summary>
/// Opens a TLS connection for an ssl or http encrypt keepalive and returns the decrypted stream (the handshake is
/// done). The node plugs in the OpenSSL client it uses for back-end re-encryption (DataPlane); <see cref="SslStreamProbeConnector"/>
/// is the default.
/// </summary>
public interface ITlsProbeConnector
{
    Task<Stream> ConnectAsync(IPEndPoint endpoint, string? serverName, TlsProbeOptions options, CancellationToken ct);
}

/// <summary>
/// The default connector over .NET's SslStream. It accepts any server certificate unless the options name a CA, as a
/// CSS does for keepalives; the client certificate is sent when its certificate and key files (PEM) are readable in
/// <paramref name="storeFolder"/>. Cipher names are left to the platform's defaults: the node's connector is
/// the one that applies them.
/// </summary>
public sealed class SslStreamProbeConnector(string? storeFolder = null) : ITlsProbeConnector
{
    public async Task<Stream> ConnectAsync(IPEndPoint endpoint, string? serverName, TlsProbeOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(options);
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? ssl = null;
        try
        {
            await socket.ConnectAsync(endpoint, ct);
            ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
            using var ca = Load(options.CaCertificateFile);
            var client = LoadClient(options);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = serverName ?? endpoint.Address.ToString(),
                ClientCertificates = client is null ? null : [client],
                RemoteCertificateValidationCallback = (_, cert, _, _) => ca is null || Chains(cert, ca),
            }, ct);
            return ssl;
        }
        catch
        {
            if (ssl is not null) await ssl.DisposeAsync();
            else socket.Dispose();
            throw;
        }
    }

    private static bool Chains(X509Certificate? certificate, X509Certificate2 ca)
    {
        if (certificate is null) return false;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    private string? PathOf(string? file) =>
        file is null || storeFolder is null ? null : Path.Combine(storeFolder, Path.GetFileName(file));

    private X509Certificate2? Load(string? file) =>
        PathOf(file) is { } path && File.Exists(path) ? X509Certificate2.CreateFromPemFile(path) : null;

    private X509Certificate2? LoadClient(TlsProbeOptions options) =>
        PathOf(options.ClientCertificateFile) is { } cert && PathOf(options.ClientKeyFile) is { } key && File.Exists(cert) && File.Exists(key)
            ? X509Certificate2.CreateFromPemFile(cert, key)
            : null;
}
