using System.Globalization;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using SslCluster.Actors.Settings;

namespace SslCluster.Node;

/// <summary>
/// The admin endpoint's HTTPS certificate (<c>sslcluster.node.admin.tls.certificate</c>), loaded and checked once at
/// startup so that a certificate Kestrel could not serve stops the node with a message instead of failing every
/// handshake later; there is no fall back to HTTP.
/// </summary>
internal sealed class AdminTls : IDisposable
{
    /// <summary>The PKCS#12 password: from the environment (a Secret), as for remoting TLS, never from a configuration file.</summary>
    public const string PasswordVariable = "SSLCLUSTER_ADMIN_TLS_PASSWORD";

    private AdminTls(X509Certificate2 certificate, X509Certificate2Collection chain)
    {
        Certificate = certificate;
        Chain = chain;
    }

    /// <summary>The server certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The other certificates of the file (intermediate CAs), sent with it so that clients trusting only the root verify it.</summary>
    public X509Certificate2Collection Chain { get; }

    public static AdminTls Load(string file, string password, DateTimeOffset now)
    {
        var path = Path.GetFullPath(file);
        string Problem(string what) => $"{AdminListen.CertificateKey}: '{path}' {what}";
        if (!File.Exists(path)) throw new NodeStartupException(Problem("does not exist"));
        X509Certificate2Collection all;
        try
        {
            all = X509CertificateLoader.LoadPkcs12CollectionFromFile(path, password);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new NodeStartupException(Problem($"cannot be opened as PKCS#12 with the password in {PasswordVariable} " +
                $"(a wrong password, or not a PKCS#12 file): {e.Message}"));
        }
        var certificate = all.FirstOrDefault(c => c.HasPrivateKey);
        if (certificate is null)
        {
            Dispose(all);
            throw new NodeStartupException(Problem("holds no private key: export the certificate together with its key (openssl pkcs12 -export -inkey KEY ...)"));
        }
        string? invalid = now > certificate.NotAfter ? $"expired on {certificate.NotAfter.ToUniversalTime():u}"
            : now < certificate.NotBefore ? $"is not valid before {certificate.NotBefore.ToUniversalTime():u}"
            : null;
        if (invalid is not null)
        {
            var subject = certificate.Subject;
            Dispose(all);
            throw new NodeStartupException(Problem(string.Create(CultureInfo.InvariantCulture, $"holds a certificate ({subject}) that {invalid}")));
        }
        all.Remove(certificate);
        return new AdminTls(certificate, all);
    }

    /// <summary>HTTPS on <paramref name="listen"/>: TLS 1.2 or 1.3, HTTP/1.1 (all sslctl speaks; no h2 to expose besides).</summary>
    public void Serve(ListenOptions listen)
    {
        ArgumentNullException.ThrowIfNull(listen);
        listen.Protocols = HttpProtocols.Http1;
        listen.UseHttps(new HttpsConnectionAdapterOptions
        {
            ServerCertificate = Certificate,
            ServerCertificateChain = Chain,
            SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        });
    }

    public void Dispose()
    {
        Certificate.Dispose();
        Dispose(Chain);
    }

    private static void Dispose(X509Certificate2Collection certificates)
    {
        foreach (var c in certificates) c.Dispose();
    }
}
