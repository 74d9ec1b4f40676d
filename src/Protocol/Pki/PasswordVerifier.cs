using System.Security.Cryptography;
using System.Text;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// A PBKDF2-HMAC-SHA256 verifier of a key file's export password (the "password" of <c>ssl genrsa</c>).
/// Only the salted, stretched hash is kept, so a copy of the store does not reveal the password, and a guess
/// costs <see cref="Iterations"/> HMAC rounds.
/// </summary>
public sealed record PasswordVerifier
{
    /// <summary>
    /// Iterations used for new verifiers: about 0.1 s on a 2020s server core, which makes guessing expensive
    /// while keeping <c>ssl genrsa</c> and export interactive.
    /// </summary>
    public const int DefaultIterations = 210_000;

    /// <summary>The lowest iteration count accepted for a new verifier.</summary>
    public const int MinimumIterations = 100_000;

    /// <summary>Length of the random salt, in bytes.</summary>
    public const int SaltLength = 16;

    /// <summary>Length of the derived hash, in bytes (the SHA-256 output size, so PBKDF2 runs one block).</summary>
    public const int HashLength = 32;

    /// <summary>The longest password accepted, in characters.</summary>
    public const int MaxPasswordLength = 256;

    private readonly byte[] _salt;
    private readonly byte[] _hash;

    private PasswordVerifier(int iterations, byte[] salt, byte[] hash)
    {
        Iterations = iterations;
        _salt = salt;
        _hash = hash;
    }

    /// <summary>PBKDF2 iteration count this verifier was made with.</summary>
    public int Iterations { get; }

    /// <summary>The random salt.</summary>
    public ReadOnlyMemory<byte> Salt => _salt;

    /// <summary>The PBKDF2-HMAC-SHA256 output.</summary>
    public ReadOnlyMemory<byte> Hash => _hash;

    /// <summary>Makes a verifier for <paramref name="password"/> with a fresh random salt.</summary>
    /// <summary>
    /// Checks an iteration count when a factory or importer is built, not at its first key: a misconfigured one
    /// should fail before it generates or imports anything.
    /// </summary>
    public static int RequireIterations(int iterations, string paramName)
    {
        if (iterations < MinimumIterations)
        {
            throw new ArgumentOutOfRangeException(paramName, iterations,
                $"password verifiers need at least {MinimumIterations} PBKDF2 iterations");
        }

        return iterations;
    }

    public static PasswordVerifier Create(string password, int iterations = DefaultIterations)
    {
        ValidatePassword(password, "the password");
        if (iterations < MinimumIterations)
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"{iterations} PBKDF2 iterations are too few for a password verifier: use at least {MinimumIterations}");
        }

        var salt = RandomNumberGenerator.GetBytes(SaltLength);
        return new PasswordVerifier(iterations, salt, Derive(password, salt, iterations));
    }

    /// <summary>Rebuilds a verifier read back from storage.</summary>
    public static PasswordVerifier FromStored(int iterations, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> hash)
    {
        // Stored verifiers are checked only for shape: a lower iteration count from an older policy still verifies.
        if (iterations < 1 || salt.Length != SaltLength || hash.Length != HashLength)
        {
            throw new PkiException(PkiErrorCode.Corrupt,
                $"stored password verifier is malformed ({iterations} iterations, {salt.Length}-byte salt, {hash.Length}-byte hash)");
        }

        return new PasswordVerifier(iterations, salt.ToArray(), hash.ToArray());
    }

    /// <summary>True when <paramref name="password"/> is the password this verifier was made from.</summary>
    public bool Matches(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        var candidate = Derive(password, _salt, Iterations);
        // Constant time, so the comparison does not leak how many leading bytes of a guess were right.
        return CryptographicOperations.FixedTimeEquals(candidate, _hash);
    }

    /// <summary>Checks the shape of a password given on a command: non-empty and not absurdly long.</summary>
    internal static void ValidatePassword(string? password, string what)
    {
        if (string.IsNullOrEmpty(password))
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"{what} is empty: a private key needs a password, which is asked for again to export it");
        }

        if (password.Length > MaxPasswordLength)
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"{what} is {password.Length} characters long: the limit is {MaxPasswordLength}");
        }
    }

    /// <inheritdoc />
    public bool Equals(PasswordVerifier? other) =>
        other is not null
        && Iterations == other.Iterations
        && _salt.AsSpan().SequenceEqual(other._salt)
        && _hash.AsSpan().SequenceEqual(other._hash);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        // The salt is random per verifier, so it separates verifiers well on its own.
        var hash = new HashCode();
        hash.Add(Iterations);
        hash.AddBytes(_salt);
        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() => $"PBKDF2-HMAC-SHA256 verifier ({Iterations} iterations)";

    private static byte[] Derive(string password, byte[] salt, int iterations)
    {
        var passwordBytes = Encoding.UTF8.GetBytes(password);
        try
        {
            return Rfc2898DeriveBytes.Pbkdf2(passwordBytes, salt, iterations, HashAlgorithmName.SHA256, HashLength);
        }
        finally
        {
            // The string itself cannot be wiped, but this copy can: keep the number of copies of a secret low.
            CryptographicOperations.ZeroMemory(passwordBytes);
        }
    }
}
