using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Akka.Configuration;

namespace SslCluster.Actors.Settings;

/// <summary>
/// Where the admin endpoint listens and whether it speaks HTTPS (<c>sslcluster.node.admin</c>), decided before anything
/// starts. Every request carries a bearer token: off loopback it would cross the network in clear text, so an address
/// other than 127.0.0.0/8 or ::1 needs a TLS certificate, and the node refuses to start without one.
/// </summary>
/// <param name="Certificate">The PKCS#12 file of <c>admin.tls.certificate</c>; empty: plain HTTP, on loopback only.</param>
public sealed record AdminListen(IPAddress Address, int Port, string Certificate)
{
    public const string HostKey = "sslcluster.node.admin.host";

    public const string CertificateKey = "sslcluster.node.admin.tls.certificate";

    public bool Tls => Certificate.Length > 0;

    /// <summary>The endpoint's URL, as sslctl's --endpoint takes it (https://HOST:PORT with TLS, http://HOST:PORT without).</summary>
    public string Url => string.Create(CultureInfo.InvariantCulture,
        $"{(Tls ? "https" : "http")}://{(Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{Address}]" : Address.ToString())}:{Port}");

    /// <summary>The decision alone; a <see cref="ConfigurationException"/> naming the keys when the settings are refused.</summary>
    public static AdminListen Resolve(string host, int port, string certificate)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(certificate);
        if (!IPAddress.TryParse(host.Trim('[', ']'), out var address))
            throw new ConfigurationException($"{HostKey} must be an IP address (127.0.0.1, ::1, or this node's address with TLS), not '{host}'");
        if (port is < 1 or > 65535)
            throw new ConfigurationException($"sslcluster.node.admin.port must be from 1 to 65535, not {port}");
        if (certificate.Length == 0 && !IsLoopback(address))
            throw new ConfigurationException($"{HostKey} = {host} is not a loopback address and {CertificateKey} is empty: the admin token " +
                $"would cross the network in clear text. Set {CertificateKey} (a PKCS#12 file; the admin endpoint then serves HTTPS " +
                "only), or keep the host on loopback (127.0.0.1 or ::1)");
        return new AdminListen(address, port, certificate);
    }

    /// <summary>127.0.0.0/8 and ::1 alone: the wildcards (0.0.0.0, ::) and IPv4-mapped forms count as the network.</summary>
    public static bool IsLoopback(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.AddressFamily == AddressFamily.InterNetwork ? address.GetAddressBytes()[0] == 127 : address.Equals(IPAddress.IPv6Loopback);
    }
}
