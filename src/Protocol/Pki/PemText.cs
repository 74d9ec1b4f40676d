using System.Text;

namespace SslCluster.Protocol.Pki;

/// <summary>One "-----BEGIN LABEL-----" ... "-----END LABEL-----" block, with its RFC 1421 headers if any.</summary>
internal sealed record PemBlock(string Label, IReadOnlyDictionary<string, string> Headers, byte[] Der, string Text)
{
    /// <summary>True for OpenSSL's legacy encrypted keys ("Proc-Type: 4,ENCRYPTED" with a DEK-Info header).</summary>
    public bool IsLegacyEncrypted =>
        Headers.TryGetValue("Proc-Type", out var procType) && procType.Contains("ENCRYPTED", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// A strict PEM reader. The platform's <c>PemEncoding</c> follows RFC 7468, which has no headers, so it skips
/// OpenSSL's legacy encrypted keys; and it cannot say that a block was cut off. This one reports both. Text
/// outside blocks (openssl's "Bag Attributes", "subject=" lines, a certificate's text dump) is ignored.
/// </summary>
internal static class PemText
{
    private const string BeginMarker = "-----BEGIN ";
    private const string EndMarker = "-----END ";
    private const string Dashes = "-----";

    /// <summary>True when the bytes contain a PEM BEGIN line (PEM files may start with comments or bag attributes).</summary>
    public static bool LooksLikePem(ReadOnlySpan<byte> data) => data.IndexOf("-----BEGIN "u8) >= 0;

    /// <summary>All blocks, in file order.</summary>
    public static IReadOnlyList<PemBlock> Parse(ReadOnlySpan<byte> data, string what)
    {
        var text = Encoding.UTF8.GetString(data);
        var lines = text.Split('\n');
        var blocks = new List<PemBlock>();
        string? label = null;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var body = new StringBuilder();
        var raw = new StringBuilder();
        var inHeaders = false;
        foreach (var rawLine in lines)
        {
            var line = rawLine.TrimEnd('\r', ' ', '\t');
            if (label is null)
            {
                if (line.StartsWith(BeginMarker, StringComparison.Ordinal) && line.EndsWith(Dashes, StringComparison.Ordinal))
                {
                    label = line[BeginMarker.Length..^Dashes.Length];
                    headers.Clear();
                    body.Clear();
                    raw.Clear().Append(line).Append('\n');
                    inHeaders = true;
                }

                continue;
            }

            raw.Append(line).Append('\n');
            if (line.StartsWith(BeginMarker, StringComparison.Ordinal))
            {
                throw new PkiException(PkiErrorCode.Truncated,
                    $"{what}: the PEM block '{label}' has no END line before the next BEGIN line: the file is truncated or was pasted together wrongly");
            }

            if (line.StartsWith(EndMarker, StringComparison.Ordinal))
            {
                var endLabel = line.EndsWith(Dashes, StringComparison.Ordinal) && line.Length >= EndMarker.Length + Dashes.Length
                    ? line[EndMarker.Length..^Dashes.Length]
                    : line;
                if (endLabel != label)
                {
                    throw new PkiException(PkiErrorCode.Corrupt,
                        $"{what}: the PEM block '{label}' ends with '{line}' instead of '-----END {label}-----'");
                }

                blocks.Add(new PemBlock(label, new Dictionary<string, string>(headers, StringComparer.OrdinalIgnoreCase), Decode(body, label, what), raw.ToString()));
                label = null;
                continue;
            }

            if (inHeaders)
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
                    continue;
                }

                inHeaders = false;
                if (line.Length == 0)
                {
                    continue;
                }
            }

            body.Append(line.Trim());
        }

        if (label is not null)
        {
            throw new PkiException(PkiErrorCode.Truncated,
                $"{what}: the PEM block '{label}' has no END line: the file is truncated");
        }

        return blocks;
    }

    private static byte[] Decode(StringBuilder body, string label, string what)
    {
        if (body.Length == 0)
        {
            throw new PkiException(PkiErrorCode.Truncated, $"{what}: the PEM block '{label}' is empty");
        }

        var base64 = body.ToString();
        var buffer = new byte[base64.Length * 3 / 4 + 3];
        if (!Convert.TryFromBase64String(base64, buffer, out var written))
        {
            throw new PkiException(PkiErrorCode.Corrupt,
                $"{what}: the PEM block '{label}' is not valid base64 (a line is damaged or missing)");
        }

        return buffer[..written];
    }
}
