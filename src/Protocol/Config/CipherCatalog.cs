namespace SslCluster.Protocol.Config;

/// <summary>How a configured cipher name is honoured.</summary>
public enum CipherStatus
{
    /// <summary>A modern AEAD suite with forward secrecy: negotiated as named.</summary>
    Modern,

    /// <summary>
    /// A suite that old configurations name but that is broken or obsolete (RC4, export, NULL, DES/3DES, static RSA
    /// key exchange, CBC-mode): the line loads with a warning and the modern suites are used instead.
    /// </summary>
    Legacy,
}

/// <summary>One cipher name of the configuration language and the IANA suites it stands for.</summary>
public sealed record CipherInfo(string Name, CipherStatus Status, string Reason, IReadOnlyList<string> IanaSuites);

/// <summary>
/// The cipher names of the CSS and SSL Services Module configuration languages, plus the modern names we add.
/// Legacy names never reach the TLS engine: they stand for <see cref="ModernSuites"/>.
/// </summary>
public static class CipherCatalog
{
    /// <summary>Every suite the engine may negotiate, in server preference order.</summary>
    public static IReadOnlyList<string> ModernSuites { get; } =
    [
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ];

    private static readonly Dictionary<string, CipherInfo> Names = Build();

    public static IEnumerable<string> KnownNames => Names.Keys;

    public static bool TryGet(string name, out CipherInfo info) =>
        Names.TryGetValue(name.ToLowerInvariant(), out info!);

    /// <summary>The text of the warning a legacy name earns; it names the suites used instead.</summary>
    public static string LegacyWarning(CipherInfo info) =>
        $"cipher '{info.Name}' is {info.Reason} and is never negotiated; this line is kept for its destination and " +
        $"the modern suites are offered instead: {string.Join(", ", ModernOpenSslNames)}";

    /// <summary>The modern suites under the names openssl and most operators know.</summary>
    public static IReadOnlyList<string> ModernOpenSslNames { get; } =
    [
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305",
    ];

    private static Dictionary<string, CipherInfo> Build()
    {
        var map = new Dictionary<string, CipherInfo>(StringComparer.Ordinal);
        void Modern(string name, params string[] suites) =>
            map[name] = new CipherInfo(name, CipherStatus.Modern, "a modern AEAD suite", suites);
        void Legacy(string name, string reason) =>
            map[name] = new CipherInfo(name, CipherStatus.Legacy, reason, ModernSuites);

        const string rc4 = "RC4 (broken: RFC 7465 forbids it)";
        const string export = "an export suite (40/56-bit keys, broken: FREAK/Logjam)";
        const string des = "DES/3DES (broken: 56-bit keys, Sweet32)";
        const string nul = "a NULL suite (no encryption)";
        const string cbc = "a static-RSA CBC suite (no forward secrecy, Lucky13/POODLE-class padding attacks)";
        const string dhe = "a finite-field DHE CBC suite (weak groups, no AEAD)";

        Legacy("rsa-with-rc4-128-md5", rc4);
        Legacy("rsa-with-rc4-128-sha", rc4);
        Legacy("rsa-export-with-rc4-40-md5", export);
        Legacy("rsa-export1024-with-rc4-56-md5", export);
        Legacy("rsa-export1024-with-rc4-56-sha", export);
        Legacy("rsa-export-with-des40-cbc-sha", export);
        Legacy("rsa-export1024-with-des-cbc-sha", export);
        Legacy("dhe-rsa-export-with-des40-cbc-sha", export);
        Legacy("dhe-dss-export-with-des40-cbc-sha", export);
        Legacy("dhe-dss-export1024-with-des-cbc-sha", export);
        Legacy("rsa-with-des-cbc-sha", des);
        Legacy("rsa-with-3des-ede-cbc-sha", des);
        Legacy("dhe-rsa-with-des-cbc-sha", des);
        Legacy("dhe-rsa-with-3des-ede-cbc-sha", des);
        Legacy("dhe-dss-with-des-cbc-sha", des);
        Legacy("dhe-dss-with-3des-ede-cbc-sha", des);
        Legacy("rsa-with-null-md5", nul);
        Legacy("rsa-with-null-sha", nul);
        Legacy("rsa-with-aes-128-cbc-sha", cbc);
        Legacy("rsa-with-aes-256-cbc-sha", cbc);
        Legacy("dhe-rsa-with-aes-128-cbc-sha", dhe);
        Legacy("dhe-rsa-with-aes-256-cbc-sha", dhe);
        Legacy("dhe-dss-with-aes-128-cbc-sha", dhe);
        Legacy("dhe-dss-with-aes-256-cbc-sha", dhe);

        // "all-cipher-suites" is the CSS's "whatever the peer supports": for us that is the modern set.
        map["all-cipher-suites"] = new CipherInfo("all-cipher-suites", CipherStatus.Modern, "every modern suite", ModernSuites);
        Modern("tls13-aes-128-gcm-sha256", "TLS_AES_128_GCM_SHA256");
        Modern("tls13-aes-256-gcm-sha384", "TLS_AES_256_GCM_SHA384");
        Modern("tls13-chacha20-poly1305-sha256", "TLS_CHACHA20_POLY1305_SHA256");
        Modern("ecdhe-rsa-with-aes-128-gcm-sha256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        Modern("ecdhe-rsa-with-aes-256-gcm-sha384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
        Modern("ecdhe-rsa-with-chacha20-poly1305-sha256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
        Modern("ecdhe-ecdsa-with-aes-128-gcm-sha256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
        Modern("ecdhe-ecdsa-with-aes-256-gcm-sha384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
        Modern("ecdhe-ecdsa-with-chacha20-poly1305-sha256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
        return map;
    }
}
