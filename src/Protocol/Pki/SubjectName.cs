using System.Security.Cryptography.X509Certificates;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// The distinguished-name fields that <c>ssl gencsr</c> and <c>ssl gencert</c> ask for. Only the common name is
/// required; empty optional fields are left out of the name. Fields are checked by <see cref="Validate"/> against
/// the X.520 / RFC 5280 upper bounds, so a CA does not reject the request later for a reason nobody sees here.
/// </summary>
/// <param name="CommonName">CN: normally the server's host name.</param>
public sealed record SubjectName(string CommonName)
{
    /// <summary>The first CN of a subject in RFC 2253 form (<c>CN=a, O=b</c>), or null when it has none.</summary>
    public static string? CommonNameOf(string? subject)
    {
        if (subject is null) return null;
        foreach (var part in subject.Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.StartsWith("CN=", StringComparison.OrdinalIgnoreCase)) return part[3..];
        }

        return null;
    }

    /// <summary>O.</summary>
    public string? Organization { get; init; }

    /// <summary>OU.</summary>
    public string? OrganizationalUnit { get; init; }

    /// <summary>L (city).</summary>
    public string? Locality { get; init; }

    /// <summary>ST (state or province), spelled out.</summary>
    public string? State { get; init; }

    /// <summary>C: a two-letter ISO 3166 country code, such as US.</summary>
    public string? Country { get; init; }

    /// <summary>emailAddress (PKCS#9): deprecated in names by RFC 5280, still asked for by some CAs.</summary>
    public string? Email { get; init; }

    /// <summary>Checks every field; throws <see cref="PkiException"/> naming the first field that is wrong.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(CommonName))
        {
            throw new PkiException(PkiErrorCode.InvalidArgument, "the common name (CN) is required, normally the server's host name");
        }

        CheckText(CommonName, "common name (CN)", 64);
        CheckText(Organization, "organization (O)", 64);
        CheckText(OrganizationalUnit, "organizational unit (OU)", 64);
        CheckText(Locality, "locality (L)", 128);
        CheckText(State, "state or province (ST)", 128);
        if (!string.IsNullOrEmpty(Country) && (Country.Length != 2 || !char.IsAsciiLetter(Country[0]) || !char.IsAsciiLetter(Country[1])))
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"country (C) '{Country}' must be a 2-letter ISO 3166 code, such as US or DE");
        }

        if (!string.IsNullOrEmpty(Email))
        {
            CheckText(Email, "email address", 255);
            var at = Email.IndexOf('@', StringComparison.Ordinal);
            var valid = at > 0 && at == Email.LastIndexOf('@') && at < Email.Length - 1
                && Email.All(c => c is > ' ' and < (char)0x7F);
            if (!valid)
            {
                throw new PkiException(PkiErrorCode.InvalidArgument,
                    $"email address '{Email}' is not of the form name@domain in plain ASCII without spaces");
            }
        }
    }

    /// <summary>
    /// The encoded name, in the conventional order C, ST, L, O, OU, CN, emailAddress (the order openssl prints
    /// and CAs expect).
    /// </summary>
    public X500DistinguishedName ToDistinguishedName()
    {
        Validate();
        // The builder encodes the last-added RDN first (it follows the display order, most specific first), so
        // the fields go in from the email address back to the country.
        var builder = new X500DistinguishedNameBuilder();
        if (!string.IsNullOrEmpty(Email))
        {
            builder.AddEmailAddress(Email);
        }

        builder.AddCommonName(CommonName);
        if (!string.IsNullOrEmpty(OrganizationalUnit))
        {
            builder.AddOrganizationalUnitName(OrganizationalUnit);
        }

        if (!string.IsNullOrEmpty(Organization))
        {
            builder.AddOrganizationName(Organization);
        }

        if (!string.IsNullOrEmpty(Locality))
        {
            builder.AddLocalityName(Locality);
        }

        if (!string.IsNullOrEmpty(State))
        {
            builder.AddStateOrProvinceName(State);
        }

        if (!string.IsNullOrEmpty(Country))
        {
            builder.AddCountryOrRegion(Country.ToUpperInvariant());
        }

        return builder.Build();
    }

    private static void CheckText(string? value, string field, int maxLength)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        if (value.Length > maxLength)
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"the {field} is {value.Length} characters long: the limit is {maxLength}");
        }

        if (value.Any(char.IsControl))
        {
            throw new PkiException(PkiErrorCode.InvalidArgument, $"the {field} contains a control character");
        }

        if (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1]))
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"the {field} '{value}' begins or ends with a space: most CAs reject that, remove it");
        }
    }
}
