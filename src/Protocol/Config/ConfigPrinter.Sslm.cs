using System.Text;

namespace SslCluster.Protocol.Config;

public static partial class ConfigPrinter
{
    /// <summary>
    /// One <c>ssl-proxy context</c> block in the SSLM's face. Inside it, pools and header policies come before the
    /// services: a <c>policy http-header NAME</c> line after a service line attaches the policy to that service.
    /// </summary>
    public static string Object(SslmContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var o = new StringBuilder();
        void Line(string indent, string text) => o.Append(indent).Append(text).Append('\n');
        Line("", $"ssl-proxy context {Q(context.Name)}");
        if (context.MaxConns is { } max) Line("  ", $"maxconns {N(max)}");
        foreach (var n in context.NatPools.Values) Line("  ", $"natpool {Q(n.Name)} {n.Start} {n.End} netmask {n.Netmask}");
        foreach (var pool in context.Pools.Values)
        {
            Line("  ", $"pool ca {Q(pool.Name)}");
            foreach (var e in pool.Entries) Line("    ", $"ca trustpoint {Q(e.Trustpoint)}{(e.MatchMap is { } m ? " match map " + Q(m) : "")}");
        }
        foreach (var p in context.HeaderPolicies.Values)
        {
            Line("  ", $"policy http-header {Q(p.Name)}");
            if (p.ClientCert != ClientCertFields.None)
                Line("    ", "client-cert" + p.ClientCert switch { ClientCertFields.Basic => " basic", ClientCertFields.Pem => " pem", _ => "" });
            if (p.Session) Line("    ", "session");
            if (p.ClientIpPort) Line("    ", "client-ip-port");
            foreach (var c in p.Custom) Line("    ", $"custom {Q(c)}");
            foreach (var (standard, alias) in p.Aliases) Line("    ", $"alias {standard} {alias}");
            if (p.Prefix is { } prefix) Line("    ", $"prefix {Q(prefix)}");
            if (p.SubjectName) Line("    ", "subject-name");
            if (p.AllowAuthFailures) Line("    ", "allow-auth-failures");
            if (p.AllowRevokedCerts) Line("    ", "allow-revoked-certs");
            if (p.SendProxyV2) Line("    ", "send-proxy-v2");
        }
        foreach (var s in context.Services.Values)
        {
            Line("  ", $"service {Q(s.Name)}{(s.Client ? " client" : "")}");
            if (s.Virtual is { } v) Line("    ", $"virtual ipaddr {v.Address} protocol tcp port {N(v.Port)}{(v.Secondary ? " secondary" : "")}");
            if (s.Server is { } server) Line("    ", $"server ipaddr {server.Address} protocol tcp port {N(server.Port)}");
            if (s.CertificateTrustpoint is { } tp) Line("    ", $"certificate rsa general-purpose trustpoint {Q(tp)}");
            if (s.TrustedCa is { } ca) Line("    ", $"trusted-ca {Q(ca)}");
            if (s.NatClient is { } nat) Line("    ", $"nat client {Q(nat)}");
            if (s.NatServer) Line("    ", "nat server");
            if (s.Verify is { } verify) Line("    ", $"authenticate verify {(verify == SslmVerify.All ? "all" : "signature-only")}");
            if (s.HeaderPolicy is { } policy) Line("    ", $"policy http-header {Q(policy)}");
            if (s.LogAuthFailures) Line("    ", "log-auth-failures");
            if (s.CertTrim) Line("    ", "cert-trim");
            if (s.InService) Line("    ", "inservice");
        }
        Line("", "");
        return o.ToString();
    }

    /// <summary>One <c>crypto pki trustpoint</c> block and, when it has certificates, its <c>crypto pki certificate chain</c>.</summary>
    public static string Object(PkiTrustpoint trustpoint)
    {
        ArgumentNullException.ThrowIfNull(trustpoint);
        var o = new StringBuilder();
        void Line(string indent, string text) => o.Append(indent).Append(text).Append('\n');
        Line("", $"crypto pki trustpoint {Q(trustpoint.Name)}");
        if (trustpoint.Enrollment is { } enrollment) Line("  ", $"enrollment {enrollment}");
        if (trustpoint.RsaKeyPair is { } key) Line("  ", $"rsakeypair {Q(key)}");
        if (trustpoint.Revocation.Count > 0) Line("  ", $"revocation-check {string.Join(' ', trustpoint.Revocation.Select(m => m.ToString().ToLowerInvariant()))}");
        if (trustpoint.OcspUrl is { } url) Line("  ", $"ocsp url {url}");
        if (trustpoint.MinChainLength != 0) Line("  ", $"min-chain-length {N(trustpoint.MinChainLength)}");
        if (trustpoint.Chain.Count > 0)
        {
            Line("", $"crypto pki certificate chain {Q(trustpoint.Name)}");
            foreach (var c in trustpoint.Chain) Line("  ", $"certificate {(c.Ca ? "ca " : "")}{c.Serial} {c.File}");
        }
        Line("", "");
        return o.ToString();
    }

    /// <summary>Every sequence of one certificate map.</summary>
    public static string Object(PkiCertificateMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var o = new StringBuilder();
        foreach (var (sequence, rules) in map.Sequences)
        {
            o.Append($"crypto pki certificate map {Q(map.Name)} {N(sequence)}\n");
            foreach (var r in rules)
            {
                var field = r.Field == CertificateMapField.SubjectName ? "subject-name" : "issuer-name";
                var op = r.Operator switch
                {
                    CertificateMapOperator.Equal => "eq",
                    CertificateMapOperator.NotEqual => "ne",
                    CertificateMapOperator.Contains => "co",
                    _ => "nc",
                };
                o.Append($"  {field} {op} {Q(r.Value)}\n");
            }
        }
        o.Append('\n');
        return o.ToString();
    }
}
