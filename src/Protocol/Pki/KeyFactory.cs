using System.Security.Cryptography;

namespace SslCluster.Protocol.Pki;

/// <summary>Key-generation commands of the CSS that this product answers with an explanation instead of a key.</summary>
public enum UnsupportedKeyCommand
{
    /// <summary><c>ssl gendsa</c>.</summary>
    GenDsa,

    /// <summary><c>ssl gendh</c>.</summary>
    GenDh,
}

/// <summary>
/// <c>ssl genrsa NAME BITS "password"</c> and our <c>ssl genecdsa NAME "password"</c>: makes a key pair, keeps the
/// private key only sealed, and keeps a verifier of the password, which is asked for again to export the key.
/// </summary>
public sealed class KeyFactory
{
    private readonly KeyProtector _protector;
    private readonly TimeProvider _time;
    private readonly int _passwordIterations;

    /// <summary>Creates a factory sealing with <paramref name="protector"/> and stamping files with <paramref name="timeProvider"/>.</summary>
    public KeyFactory(KeyProtector protector, TimeProvider timeProvider, int passwordIterations = PasswordVerifier.DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(protector);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _protector = protector;
        _time = timeProvider;
        _passwordIterations = PasswordVerifier.RequireIterations(passwordIterations, nameof(passwordIterations));
    }

    /// <summary>The RSA sizes <see cref="GenerateRsa"/> accepts.</summary>
    public static IReadOnlyList<int> RsaKeySizes { get; } = [2048, 3072, 4096];

    /// <summary>Generates an RSA key file of <paramref name="bits"/> bits (2048, 3072 or 4096).</summary>
    public CertStoreFile GenerateRsa(string name, int bits, string password)
    {
        // Check everything cheap before spending seconds on a 4096-bit key.
        CertStoreFile.ValidateName(name);
        if (bits == 1024)
        {
            throw new PkiException(PkiErrorCode.WeakKey,
                "RSA key size 1024 is too weak: 1024-bit RSA is within reach of attackers and TLS clients reject it; use 2048");
        }

        if (!RsaKeySizes.Contains(bits))
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"RSA key size {bits} is not supported: use 2048, 3072 or 4096");
        }

        PasswordVerifier.ValidatePassword(password, "the password");
        using var rsa = RSA.Create(bits);
        return Seal(name, rsa, password);
    }

    /// <summary>Generates an ECDSA P-256 key file (an extension of ours: the CSS had no EC keys).</summary>
    public CertStoreFile GenerateEcdsaP256(string name, string password)
    {
        CertStoreFile.ValidateName(name);
        PasswordVerifier.ValidatePassword(password, "the password");
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Seal(name, ecdsa, password);
    }

    /// <summary>The answer to <c>ssl gendsa</c> and <c>ssl gendh</c>, which exist on the CSS but not here.</summary>
    public static string UnsupportedCommandMessage(UnsupportedKeyCommand command) => command switch
    {
        UnsupportedKeyCommand.GenDsa =>
            "ssl gendsa is not supported: DSA cannot be used in TLS 1.3 and is weak in TLS 1.2; "
            + "use 'ssl genrsa NAME 2048 \"password\"' or 'ssl genecdsa NAME \"password\"'",
        UnsupportedKeyCommand.GenDh =>
            "ssl gendh is not supported: static Diffie-Hellman is obsolete and key exchange always uses ephemeral ECDHE, "
            + "which needs no parameter file; use 'ssl genrsa NAME 2048 \"password\"' or 'ssl genecdsa NAME \"password\"' for the server key",
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, "unknown command"),
    };

    private CertStoreFile Seal(string name, AsymmetricAlgorithm key, string password)
    {
        using var decoded = PrivateKeyDecoder.FromAlgorithm(key, $"key file '{name}'");
        var verifier = PasswordVerifier.Create(password, _passwordIterations);
        return _protector.SealKeyFile(name, decoded, verifier, _time.GetUtcNow());
    }
}
