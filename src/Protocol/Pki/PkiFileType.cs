namespace SslCluster.Protocol.Pki;

/// <summary>The file types of <c>copy ssl ... import|export NAME TYPE</c>, as on the CSS.</summary>
public enum PkiFileType
{
    /// <summary>Base64 text blocks ("-----BEGIN ...-----"); may hold several objects.</summary>
    Pem,

    /// <summary>One binary DER object: a certificate or a private key.</summary>
    Der,

    /// <summary>A PKCS#12 (.p12/.pfx) bundle of a private key and its certificates, under a password.</summary>
    Pkcs12,
}

/// <summary>Parsing and printing of <see cref="PkiFileType"/> as typed on the command line.</summary>
public static class PkiFileTypes
{
    /// <summary>Parses "pem", "der" or "pkcs12" (case-insensitive; "p12" and "pfx" are taken as pkcs12).</summary>
    public static PkiFileType Parse(string? text) => text?.Trim().ToUpperInvariant() switch
    {
        "PEM" => PkiFileType.Pem,
        "DER" => PkiFileType.Der,
        "PKCS12" or "P12" or "PFX" => PkiFileType.Pkcs12,
        _ => throw new PkiException(PkiErrorCode.InvalidArgument, $"file type '{text}' is not one of pem, der, pkcs12"),
    };

    /// <summary>The command-line spelling.</summary>
    public static string ToText(this PkiFileType type) => type switch
    {
        PkiFileType.Pem => "pem",
        PkiFileType.Der => "der",
        _ => "pkcs12",
    };
}
