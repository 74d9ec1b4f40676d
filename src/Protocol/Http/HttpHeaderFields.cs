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

        foreach (var line in settings.Static)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            fields.Add(new(line[..colon], line[(colon + 1)..]));
        }

        return RequestHeaderInsertion.Create(fields, reserved);
    }
}
