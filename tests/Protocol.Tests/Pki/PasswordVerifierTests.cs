using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

public sealed class PasswordVerifierTests
{
    [Fact]
    public void Matches_SamePassword_TrueAndOtherPasswordFalse()
    {
        var verifier = PasswordVerifier.Create("correct horse", PasswordVerifier.MinimumIterations);

        Assert.True(verifier.Matches("correct horse"));
        Assert.False(verifier.Matches("correct horsE"));
        Assert.False(verifier.Matches(string.Empty));
    }

    [Fact]
    public void Create_Default_UsesDefaultIterationsAndRandomSalt()
    {
        var a = PasswordVerifier.Create("pw");
        var b = PasswordVerifier.Create("pw");

        Assert.Equal(PasswordVerifier.DefaultIterations, a.Iterations);
        Assert.True(a.Iterations >= 100_000);
        Assert.Equal(16, a.Salt.Length);
        Assert.NotEqual(a, b);
        Assert.False(a.Salt.Span.SequenceEqual(b.Salt.Span));
    }

    [Fact]
    public void Create_TooFewIterations_Throws()
    {
        var error = Assert.Throws<PkiException>(() => PasswordVerifier.Create("pw", 10_000));

        Assert.Equal("10000 PBKDF2 iterations are too few for a password verifier: use at least 100000", error.Message);
    }

    [Fact]
    public void Create_EmptyPassword_ThrowsExplainingWhy()
    {
        var error = Assert.Throws<PkiException>(() => PasswordVerifier.Create(string.Empty));

        Assert.Equal(PkiErrorCode.InvalidArgument, error.Code);
        Assert.Contains("a private key needs a password", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromStored_SameValues_EqualWithSameHashCode()
    {
        var original = PasswordVerifier.Create("pw", PasswordVerifier.MinimumIterations);

        var restored = PasswordVerifier.FromStored(original.Iterations, original.Salt.Span, original.Hash.Span);

        Assert.Equal(original, restored);
        Assert.Equal(original.GetHashCode(), restored.GetHashCode());
        Assert.True(restored.Matches("pw"));
    }

    [Fact]
    public void FromStored_WrongSaltLength_ThrowsCorrupt()
    {
        var error = Assert.Throws<PkiException>(() => PasswordVerifier.FromStored(100_000, new byte[3], new byte[32]));

        Assert.Equal(PkiErrorCode.Corrupt, error.Code);
    }
}
