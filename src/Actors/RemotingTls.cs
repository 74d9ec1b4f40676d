using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using SslCluster.Actors.Settings;

namespace SslCluster.Actors;

/// <summary>
/// Mutual TLS for Akka remoting: every node presents its certificate and accepts a peer only when the peer's
/// certificate chains to the cluster CA (and to nothing else: the operating system's roots are not trusted here).
/// Host names are not checked: nodes are addressed by IP and the cluster CA issues certificates to nodes only.
/// </summary>
public static class RemotingTls
{
    public const string PasswordVariable = "SSLCLUSTER_REMOTING_TLS_PASSWORD";

    /// <summary>The setup and HOCON that turn TLS on; null when the settings name no certificate.</summary>
    public static (Setup Setup, Config Config)? Create(SslClusterSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.RemotingTlsCertificate.Length == 0 && settings.RemotingTlsCa.Length == 0) return null;
        if (settings.RemotingTlsCertificate.Length == 0 || settings.RemotingTlsCa.Length == 0)
            throw new ArgumentException("remoting TLS needs both sslcluster.node.remoting-tls.certificate and .ca");
        var password = Environment.GetEnvironmentVariable(PasswordVariable) ?? "";
        X509Certificate2 certificate;
        X509Certificate2 ca;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(settings.RemotingTlsCertificate, password);
            ca = X509Certificate2.CreateFromPem(File.ReadAllText(settings.RemotingTlsCa));
        }
        catch (Exception e) when (e is CryptographicException or IOException)
        {
            throw new ArgumentException($"remoting TLS: cannot load '{settings.RemotingTlsCertificate}' or '{settings.RemotingTlsCa}': {e.Message}", e);
        }
        if (!certificate.HasPrivateKey)
            throw new ArgumentException($"remoting TLS: '{settings.RemotingTlsCertificate}' holds no private key");
        var setup = new DotNettySslSetup(certificate, suppressValidation: false, requireMutualAuthentication: true,
            validateCertificateHostname: false, customValidator: (peer, _, remote, _, log) => ChainsToCa(peer, ca, remote, log));
        return (setup, ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.enable-ssl = true"));
    }

    private static bool ChainsToCa(X509Certificate2? peer, X509Certificate2 ca, string remote, ILoggingAdapter log)
    {
        if (peer is null)
        {
            log.Warning("Remoting TLS: {0} presented no certificate; refused", remote);
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        if (chain.Build(peer)) return true;
        log.Warning("Remoting TLS: {0} presented '{1}', which does not chain to the cluster CA ({2}); refused", remote, peer.Subject,
            string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim())));
        return false;
    }
}
