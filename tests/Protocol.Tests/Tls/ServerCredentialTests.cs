using System.Security.Cryptography;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

public sealed class ServerCredentialTests
{
    [Fact]
    public void Create_RsaCertificateWithItsKey_ReportsRsaAndSubject()
    {
        using var certificate = TestCertificates.CreateRsa("rsa.test");
        using var credential = certificate.CreateCredential();

        Assert.Equal(ServerKeyType.Rsa, credential.KeyType);
        Assert.Equal("CN=rsa.test", credential.Subject);
        Assert.Equal(64, credential.Thumbprint.Length);
    }

    [Fact]
    public void Create_KeyOfAnotherCertificate_ThrowsNamingTheCertificate()
    {
        using var certificate = TestCertificates.CreateRsa("mismatch.test");
        using var otherKey = RSA.Create(2048);

        var error = Assert.Throws<ArgumentException>(() => ServerCredential.Create([certificate.Der], otherKey));
        Assert.Contains("CN=mismatch.test", error.Message);
    }

    [Fact]
    public void Create_EcdsaKeyForRsaCertificate_Throws()
    {
        using var certificate = TestCertificates.CreateRsa();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Assert.Throws<ArgumentException>(() => ServerCredential.Create([certificate.Der], key));
    }

    [Fact]
    public void Create_EmptyChain_Throws()
    {
        using var key = RSA.Create(2048);

        Assert.Throws<ArgumentException>(() => ServerCredential.Create([], key));
    }

    [Fact]
    public void Binding_EcdsaCredential_OffersOnlyEcdsaAndTls13Suites()
    {
        using var certificate = TestCertificates.CreateEcdsa();
        using var credential = certificate.CreateCredential();

        var binding = new TlsFrontEndBinding(credential, "k");

        Assert.Equal(ServerKeyType.Ecdsa, credential.KeyType);
        Assert.Equal([.. TlsCipherSuites.Tls13, .. TlsCipherSuites.Tls12Ecdsa], binding.CipherSuites);
    }
}
