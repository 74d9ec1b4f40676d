using System.Collections.Frozen;
using System.Globalization;
using System.Reflection;
using Org.BouncyCastle.Tls;

namespace SslCluster.Protocol.Tls;

/// <summary>A requested cipher suite the engine will not negotiate, and why (for the configuration warning).</summary>
/// <param name="Suite">IANA code point.</param>
/// <param name="Name">IANA name, or the hex code when unknown.</param>
/// <param name="Reason">Why it is refused, in words an operator can act on.</param>
public sealed record RejectedCipherSuite(int Suite, string Name, string Reason);

/// <summary>
/// The cipher suite policy of the engine: which suites it can negotiate at all, their names, and the filter that
/// turns an ssl-server's requested list into what is really offered. Only forward-secret AEAD suites are
/// supported: TLS 1.3 AES-GCM and ChaCha20-Poly1305, TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305. RC4,
/// export, NULL, DES, 3DES and anonymous suites are refused whatever the configuration says.
/// </summary>
public static class TlsCipherSuites
{
    /// <summary>The TLS 1.3 suites, always offered (see <see cref="Filter"/> for why).</summary>
    public static IReadOnlyList<int> Tls13 { get; } =
    [
        CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    ];

    /// <summary>TLS 1.2 suites usable with an ECDSA key.</summary>
    public static IReadOnlyList<int> Tls12Ecdsa { get; } =
    [
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

    /// <summary>TLS 1.2 suites usable with an RSA key.</summary>
    public static IReadOnlyList<int> Tls12Rsa { get; } =
    [
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

    /// <summary>The default modern set, in server preference order: TLS 1.3 first, then TLS 1.2 ECDHE.</summary>
    public static IReadOnlyList<int> Default { get; } = [.. Tls13, .. Tls12Ecdsa, .. Tls12Rsa];

    private static readonly FrozenSet<int> Supported = Default.ToFrozenSet();

    // Every registered suite by its IANA name: the constants of Org.BouncyCastle.Tls.CipherSuite, a table kept with the
    // BouncyCastle package we use for PKI (its TLS protocol code is not used).
    private static readonly FrozenDictionary<int, string> Names = typeof(CipherSuite)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(int) && f.Name.StartsWith("TLS_", StringComparison.Ordinal))
        .GroupBy(f => (int)f.GetRawConstantValue()!)
        .ToFrozenDictionary(g => g.Key, g => g.OrderBy(f => f.Name.Length).First().Name);

    // OpenSSL's names of the suites we support: TLS 1.3 suites keep their IANA names, TLS 1.2 ones have OpenSSL's own.
    private static readonly FrozenDictionary<int, string> OpenSslNames = new Dictionary<int, string>
    {
        [CipherSuite.TLS_AES_128_GCM_SHA256] = "TLS_AES_128_GCM_SHA256",
        [CipherSuite.TLS_AES_256_GCM_SHA384] = "TLS_AES_256_GCM_SHA384",
        [CipherSuite.TLS_CHACHA20_POLY1305_SHA256] = "TLS_CHACHA20_POLY1305_SHA256",
        [CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256] = "ECDHE-ECDSA-AES128-GCM-SHA256",
        [CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384] = "ECDHE-ECDSA-AES256-GCM-SHA384",
        [CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256] = "ECDHE-ECDSA-CHACHA20-POLY1305",
        [CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256] = "ECDHE-RSA-AES128-GCM-SHA256",
        [CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384] = "ECDHE-RSA-AES256-GCM-SHA384",
        [CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256] = "ECDHE-RSA-CHACHA20-POLY1305",
    }.ToFrozenDictionary();

    /// <summary>
    /// A filtered suite list (see <see cref="Filter"/>) in OpenSSL's two syntaxes, order kept: the TLS 1.2 cipher list
    /// and the TLS 1.3 suites, each null when the list has none of that version.
    /// </summary>
    public static (string? CipherList, string? CipherSuites) ToOpenSsl(IEnumerable<int> suites)
    {
        ArgumentNullException.ThrowIfNull(suites);
        var tls12 = new List<string>();
        var tls13 = new List<string>();
        foreach (int suite in suites)
        {
            if (OpenSslNames.TryGetValue(suite, out var name))
            {
                (Tls13.Contains(suite) ? tls13 : tls12).Add(name);
            }
        }

        return (tls12.Count == 0 ? null : string.Join(':', tls12), tls13.Count == 0 ? null : string.Join(':', tls13));
    }

    /// <summary>The bits of a suite's symmetric key (128 for AES-128, 256 for AES-256 and ChaCha20); 0 when unknown.</summary>
    public static int KeyBits(int suite)
    {
        var name = GetName(suite);
        return name.Contains("AES_128", StringComparison.Ordinal) ? 128
            : name.Contains("AES_256", StringComparison.Ordinal) || name.Contains("CHACHA20", StringComparison.Ordinal) ? 256
            : 0;
    }

    /// <summary>The IANA name of a suite (for example TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), or 0xNNNN.</summary>
    public static string GetName(int suite) =>
        Names.TryGetValue(suite, out var name) ? name : "0x" + suite.ToString("X4", CultureInfo.InvariantCulture);

    /// <summary>Whether the engine can negotiate the suite at all (for any key type).</summary>
    public static bool IsSupported(int suite) => Supported.Contains(suite);

    /// <summary>
    /// Filters a requested list for a key type. Keeps the order of the request; drops duplicates; refuses what the
    /// policy forbids and reports it. When nothing usable remains for TLS 1.2, the defaults for the key type are used
    /// (and <paramref name="usedDefaults"/> says so). The TLS 1.3 suites are always added when missing: the protocol
    /// version is chosen by the module's engine before SNI selects the ssl-server, so a server without them would fail
    /// TLS 1.3 clients outright instead of letting them fall back to TLS 1.2, and every TLS 1.3 suite is a modern one.
    /// </summary>
    public static int[] Filter(IEnumerable<int>? requested, ServerKeyType keyType,
        out IReadOnlyList<RejectedCipherSuite> rejected, out bool usedDefaults)
    {
        var keep = new List<int>();
        var refused = new List<RejectedCipherSuite>();
        foreach (int suite in requested ?? Default)
        {
            if (keep.Contains(suite) || refused.Exists(r => r.Suite == suite) || CipherSuite.IsScsv(suite))
            {
                continue;
            }

            string? reason = RefusalReason(suite, keyType);
            if (reason is null)
            {
                keep.Add(suite);
            }
            else if (requested is not null)
            {
                refused.Add(new RejectedCipherSuite(suite, GetName(suite), reason));
            }
        }

        usedDefaults = false;
        var tls12Defaults = keyType == ServerKeyType.Rsa ? Tls12Rsa : Tls12Ecdsa;
        if (!keep.Exists(s => !Tls13.Contains(s)))
        {
            usedDefaults = requested is not null;
            keep.AddRange(tls12Defaults);
        }

        foreach (int suite in Tls13)
        {
            if (!keep.Contains(suite))
            {
                keep.Insert(keep.Count(Tls13.Contains), suite);
            }
        }

        rejected = refused;
        return [.. keep];
    }

    private static string? RefusalReason(int suite, ServerKeyType keyType)
    {
        string name = GetName(suite);
        if (name.Contains("EXPORT", StringComparison.Ordinal))
        {
            return "export-grade suites use deliberately weak keys";
        }

        if (name.Contains("_RC4_", StringComparison.Ordinal))
        {
            return "RC4 is broken (RFC 7465 forbids it)";
        }

        if (name.Contains("_NULL_", StringComparison.Ordinal) || name.EndsWith("_NULL", StringComparison.Ordinal))
        {
            return "NULL suites do not encrypt";
        }

        if (name.Contains("_DES", StringComparison.Ordinal) || name.Contains("3DES", StringComparison.Ordinal))
        {
            return "DES and 3DES have 64-bit blocks (Sweet32) or 56-bit keys";
        }

        if (name.Contains("_anon_", StringComparison.Ordinal))
        {
            return "anonymous suites do not authenticate the server";
        }

        if (!Supported.Contains(suite))
        {
            return "not supported by this engine: it offers only TLS 1.3 suites and TLS 1.2 ECDHE with AES-GCM or " +
                "ChaCha20-Poly1305 (forward secrecy and authenticated encryption)";
        }

        if (keyType == ServerKeyType.Rsa && Tls12Ecdsa.Contains(suite))
        {
            return "needs an ECDSA certificate; this ssl-server has an RSA key";
        }

        if (keyType == ServerKeyType.Ecdsa && Tls12Rsa.Contains(suite))
        {
            return "needs an RSA certificate; this ssl-server has an ECDSA key";
        }

        return null;
    }
}
