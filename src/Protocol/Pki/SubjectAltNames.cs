using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// Checks and encodes subjectAltName entries. Clients match the host name against these only (RFC 6125; the CN
/// has been ignored by browsers since 2017), so a certificate without them is useless to a browser.
/// </summary>
public static class SubjectAltNames
{
    /// <summary>The most entries accepted in one certificate or request.</summary>
    public const int MaxEntries = 100;

    /// <summary>
    /// Builds the extension from the given entries (DNS names, or IP addresses in their usual text form). When
    /// none are given, the common name is used if it is a valid host name or IP address; otherwise there is no
    /// extension (returns null).
    /// </summary>
    public static X509SubjectAlternativeNameExtension? Build(IReadOnlyList<string>? entries, string commonName)
    {
        var builder = new SubjectAlternativeNameBuilder();
        var count = 0;
        if (entries is null || entries.Count == 0)
        {
            if (IPAddress.TryParse(commonName, out var address) && IsPlainAddress(commonName, address))
            {
                builder.AddIpAddress(address);
                return Typed(builder);
            }

            if (DnsNameProblem(commonName) is null)
            {
                builder.AddDnsName(commonName);
                return Typed(builder);
            }

            return null;
        }

        if (entries.Count > MaxEntries)
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"{entries.Count} subject alternative names given: the limit is {MaxEntries}");
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in entries)
        {
            if (!seen.Add(entry ?? string.Empty))
            {
                continue;
            }

            if (IPAddress.TryParse(entry, out var address) && IsPlainAddress(entry, address))
            {
                builder.AddIpAddress(address);
            }
            else
            {
                var problem = DnsNameProblem(entry);
                if (problem is not null)
                {
                    throw new PkiException(PkiErrorCode.InvalidArgument, $"subject alternative name '{entry}' {problem}");
                }

                builder.AddDnsName(entry!);
            }

            count++;
        }

        return count == 0 ? null : Typed(builder);
    }

    /// <summary>
    /// Null when <paramref name="name"/> is a host name a public CA would put in a certificate (LDH labels,
    /// ASCII, at most 253 characters, optionally a leading "*." wildcard over at least two labels); otherwise
    /// the reason, phrased to follow the name in an error text.
    /// </summary>
    public static string? DnsNameProblem(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "is empty";
        }

        if (name.Length > 253)
        {
            return $"is {name.Length} characters long: a DNS name has at most 253";
        }

        if (name.Any(c => c > 0x7F))
        {
            return "is not ASCII: give an internationalised name in its punycode form (xn--...)";
        }

        var labels = name.Split('.');
        var first = 0;
        if (labels[0] == "*")
        {
            if (labels.Length < 3)
            {
                return "is a wildcard over a top-level domain: a wildcard needs at least two labels after '*.'";
            }

            first = 1;
        }

        for (var i = first; i < labels.Length; i++)
        {
            var label = labels[i];
            if (label.Length == 0)
            {
                return "has an empty label (two dots in a row, or a leading or trailing dot)";
            }

            if (label.Length > 63)
            {
                return $"has a label of {label.Length} characters: the limit is 63";
            }

            if (label.Contains('*', StringComparison.Ordinal))
            {
                return "has a '*' that is not the whole leftmost label";
            }

            if (label[0] == '-' || label[^1] == '-')
            {
                return $"has a label '{label}' that begins or ends with '-'";
            }

            if (!label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return $"has a label '{label}' with a character other than letters, digits and '-'";
            }
        }

        return null;
    }

    private static X509SubjectAlternativeNameExtension Typed(SubjectAlternativeNameBuilder builder) => new(builder.Build().RawData, critical: false);

    // IPAddress.TryParse also takes "10" or "1.2" (legacy inet_aton forms); only the usual forms count as addresses.
    private static bool IsPlainAddress(string? text, IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 || text?.Count(c => c == '.') == 3;
}
