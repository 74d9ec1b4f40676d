using SslCluster.Protocol.Config;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Http;

/// <summary>
/// The lines an ssl-server's <c>http-header</c> settings insert into a connection's requests, from what its handshake
/// agreed (docs/configuration.md, "HTTP header insertion").
/// </summary>
public static class HttpHeaderFields
{
    /// <summary>The insertion for one connection; null when the ssl-server inserts nothing.</summary>
    public static RequestHeaderInsertion? For(HttpHeaderSettings settings, HandshakeInfo info)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(info);
        if (!settings.Any)
        {
            return null;
        }

        var fields = new List<KeyValuePair<string, string>>();
        var reserved = new List<string>();
        if (settings.Session)
        {
            var prefix = settings.Prefix ?? "";

            // No session, or one whose ID is all zeros, gets no Session-Id line: a server must never read zeros there,
            // nor a value the client wrote.
            reserved.Add(prefix + "Session-Id");
            if (info.SessionIdentity is { Length: > 0 } id && id.AsSpan().ContainsAnyExcept('0'))
            {
                fields.Add(new(prefix + "Session-Id", id));
            }

            var cipher = info.CipherSuiteName;
            var bits = TlsCipherSuites.KeyBits(info.CipherSuite).ToString(System.Globalization.CultureInfo.InvariantCulture);
            fields.Add(new(prefix + "Session-Cipher-Name", cipher));
            fields.Add(new(prefix + "Session-Cipher-Key-Size", bits));
            fields.Add(new(prefix + "Session-Cipher-Use-Size", bits));

            // TLS 1.2 and 1.3 have no step-up (Server Gated Cryptography): the initial cipher is the one in use.
            fields.Add(new(prefix + "Session-Step-Up", "0"));
            fields.Add(new(prefix + "Session-Initial-Cipher-Name", cipher));
            fields.Add(new(prefix + "Session-Initial-Cipher-Key-Size", bits));
            fields.Add(new(prefix + "Session-Initial-Cipher-Use-Size", bits));
        }

        if (settings.ClientCert != ClientCertFields.None)
        {
            ClientCertificate(settings.ClientCert, (settings.Prefix ?? "") + "ClientCert-", info.ClientAuth ?? ClientAuthOutcome.NotRequested, fields, reserved);
        }

        if (settings.ServerCert)
        {
            var start = (settings.Prefix ?? "") + "ServerCert-";
            Certificate(start, info.ServerCertificate is { } der ? CertificateFields.Of(der) : null, CertificateFields.Names.Count, fields, reserved);
        }

        // The standard forms speak only for a certificate that verified: a server reading them trusts what they say.
        var verified = info.ClientAuth is { Result: ClientAuthResult.Verified, Leaf: not null } auth ? auth : null;
        if (settings.Xfcc)
        {
            reserved.Add(XfccName);
            if (verified is not null && CertificateFields.Of(verified.Leaf!) is { } certificate)
            {
                fields.Add(new(XfccName, Xfcc(certificate, verified.Chain)));
            }
        }

        if (settings.Rfc9440)
        {
            reserved.Add(ClientCertName);
            reserved.Add(ClientCertChainName);
            if (verified is { } auth9440)
            {
                fields.Add(new(ClientCertName, ByteSequence(auth9440.Chain[0])));
                if (auth9440.Chain.Count > 1)
                {
                    fields.Add(new(ClientCertChainName, string.Join(", ", auth9440.Chain.Skip(1).Select(ByteSequence))));
                }
            }
        }

        if (settings.ClientIpPort)
        {
            var prefix = settings.Prefix ?? "";
            reserved.Add(prefix + "ClientIP");
            reserved.Add(prefix + "ClientPort");
            if (info.Client is { } client)
            {
                var address = client.Address.IsIPv4MappedToIPv6 ? client.Address.MapToIPv4() : client.Address;
                fields.Add(new(prefix + "ClientIP", address.ToString()));
                fields.Add(new(prefix + "ClientPort", client.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }

        if (settings.Aliases.Count > 0)
        {
            Alias(settings, fields, reserved);
        }

        foreach (var line in settings.Static)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            fields.Add(new(line[..colon], line[(colon + 1)..]));
        }

        return RequestHeaderInsertion.Create(fields, reserved);
    }

    /// <summary>
    /// Whether <paramref name="settings"/> insert a field under <paramref name="name"/>, or take it out of requests, by
    /// the rule a client's headers are taken out with (any case; any character but letters and digits alike): a static
    /// line of such a name would contradict, or be taken for, one of ours.
    /// </summary>
    public static bool Inserts(HttpHeaderSettings settings, string name)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(name);
        var fields = For(settings with { Static = Config.ValueList<string>.Empty }, new HandshakeInfo(TlsVersion.Tls13, 0x1301, null, false, "-", null));
        return fields is not null && fields.Removes(System.Text.Encoding.ASCII.GetBytes(name));
    }

    /// <summary>The SSL session fields, in insertion order.</summary>
    public static IReadOnlyList<string> SessionNames { get; } =
    [
        "Session-Id", "Session-Cipher-Name", "Session-Cipher-Key-Size", "Session-Cipher-Use-Size", "Session-Step-Up",
        "Session-Initial-Cipher-Name", "Session-Initial-Cipher-Key-Size", "Session-Initial-Cipher-Use-Size",
    ];

    /// <summary>The SSLM's client address fields (<c>client-ip-port</c>).</summary>
    public static IReadOnlyList<string> ClientAddressNames { get; } = ["ClientIP", "ClientPort"];

    /// <summary>Every name of a field the module inserts (an SSLM policy's <c>alias</c> may rename any of them).</summary>
    public static IReadOnlyList<string> StandardNames { get; } =
    [
        .. SessionNames, "ClientCert-Valid", "ClientCert-Error", "ClientCert-PEM",
        .. CertificateFields.Names.Select(n => "ClientCert-" + n), .. ClientAddressNames,
    ];

    /// <summary>Whether <paramref name="name"/> is one of <see cref="StandardNames"/> (any case).</summary>
    public static bool IsStandardName(string name) => StandardNames.Contains(name, StringComparer.OrdinalIgnoreCase);

    /// <summary>The standard spelling of <paramref name="name"/>, or the name as given when it is none.</summary>
    public static string CanonicalName(string name) =>
        StandardNames.FirstOrDefault(n => n.Equals(name, StringComparison.OrdinalIgnoreCase)) ?? name;

    /// <summary>
    /// Sends each aliased field under its alias instead of its standard name (with or without the prefix); both names
    /// are taken out of the client's requests, so neither can be forged.
    /// </summary>
    private static void Alias(HttpHeaderSettings settings, List<KeyValuePair<string, string>> fields, List<string> reserved)
    {
        var prefix = settings.Prefix ?? "";
        string? AliasOf(string name)
        {
            var standard = name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : name;
            return settings.Aliases.TryGetValue(standard, out var alias) ? alias : null;
        }

        for (int i = 0; i < fields.Count; i++)
        {
            if (AliasOf(fields[i].Key) is { } alias)
            {
                reserved.Add(fields[i].Key);
                fields[i] = new(alias, fields[i].Value);
            }
        }

        foreach (var alias in settings.Aliases.Values)
        {
            reserved.Add(alias);
        }
    }

    /// <summary>Envoy's header (<c>forward_client_cert_details</c>), one element: this proxy is the first hop.</summary>
    public const string XfccName = "X-Forwarded-Client-Cert";

    /// <summary>RFC 9440's two headers.</summary>
    public const string ClientCertName = "Client-Cert";

    public const string ClientCertChainName = "Client-Cert-Chain";

    /// <summary>
    /// <c>ClientCert-Valid</c> (1 when the certificate verified, else 0), <c>ClientCert-Error</c> (the SSLM's string,
    /// "none" when it verified), then the certificate's fields (<paramref name="which"/>) or its PEM.
    /// </summary>
    private static void ClientCertificate(ClientCertFields which, string start, ClientAuthOutcome auth,
        List<KeyValuePair<string, string>> fields, List<string> reserved)
    {
        fields.Add(new(start + "Valid", auth.Result == ClientAuthResult.Verified ? "1" : "0"));
        fields.Add(new(start + "Error", auth.ErrorText));
        reserved.Add(start + "PEM");
        // Only a verified certificate's fields are kept for the next connection (CertificateFields.Of).
        var certificate = auth.Leaf is { } leaf ? CertificateFields.Of(leaf, keep: auth.Result == ClientAuthResult.Verified) : null;
        if (which == ClientCertFields.Pem)
        {
            Certificate(start, null, CertificateFields.Names.Count, fields, reserved);
            if (certificate is not null)
            {
                fields.Add(new(start + "PEM", Uri.EscapeDataString(certificate.Pem)));
            }

            return;
        }

        Certificate(start, certificate, which == ClientCertFields.Basic ? CertificateFields.BasicCount : CertificateFields.Names.Count, fields, reserved);
    }

    /// <summary>
    /// The first <paramref name="count"/> fields of <paramref name="certificate"/> under <paramref name="start"/>; every
    /// field name is taken out of the client's requests, the ones not inserted too (a client must not fill them in).
    /// </summary>
    private static void Certificate(string start, CertificateFields? certificate, int count,
        List<KeyValuePair<string, string>> fields, List<string> reserved)
    {
        for (int i = 0; i < CertificateFields.Names.Count; i++)
        {
            var name = start + CertificateFields.Names[i];
            if (i < count && certificate?[i] is { } value)
            {
                fields.Add(new(name, value));
            }
            else
            {
                reserved.Add(name);
            }
        }
    }

    /// <summary>
    /// <c>Hash=...;Cert="...";Chain="...";Subject="...";URI=...;DNS=...</c>: the SHA-256 of the certificate, the
    /// certificate and the chain the client sent as URL-encoded PEM, its subject and its URI and DNS names.
    /// </summary>
    private static string Xfcc(CertificateFields certificate, IReadOnlyList<byte[]> chain)
    {
        var text = new System.Text.StringBuilder("Hash=").Append(certificate.Sha256Hex);
        text.Append(";Cert=\"").Append(Uri.EscapeDataString(certificate.Pem)).Append('"');
        if (chain.Count > 1)
        {
            var pems = string.Concat(chain.Select(CertificateFields.PemOf));
            text.Append(";Chain=\"").Append(Uri.EscapeDataString(pems)).Append('"');
        }

        text.Append(";Subject=").Append(XfccQuoted(certificate.Subject, always: true));
        foreach (var uri in certificate.Uris)
        {
            text.Append(";URI=").Append(XfccQuoted(uri, always: false));
        }

        foreach (var dns in certificate.DnsNames)
        {
            text.Append(";DNS=").Append(XfccQuoted(dns, always: false));
        }

        return text.ToString();
    }

    /// <summary>An XFCC value: in double quotes (inner ones escaped) when asked or when it holds <c>,</c> <c>;</c> <c>=</c> or <c>"</c>.</summary>
    private static string XfccQuoted(string value, bool always) =>
        always || value.AsSpan().IndexOfAny(",;=\"\\") >= 0
            ? "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\""
            : value;

    /// <summary>An RFC 8941 byte sequence: the DER in base64 between colons.</summary>
    private static string ByteSequence(byte[] der) => ":" + Convert.ToBase64String(der) + ":";
}
