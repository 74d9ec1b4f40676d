using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

public sealed class TlsKeyMaterialTests(PkiFixture pki, OpenSslFiles files) : IClassFixture<PkiFixture>, IClassFixture<OpenSslFiles>
{
    private static readonly byte[] Data = "handshake transcript"u8.ToArray();

    [Fact]
    public void LoadSealed_RsaPair_ChainIsTheCertificateAndTheKeySignsForItsPublicKey()
    {
        var (chain, open) = TlsKeyMaterial.LoadSealed(pki.Protector, pki.RsaKey, pki.RsaCertificate);
        using var key = RSA.Create();
        key.ImportPkcs8PrivateKey(open(), out _);

        var leafDer = Assert.Single(chain);
        Assert.Equal(pki.RsaCertificate.CertificateDer.ToArray(), leafDer);
        using var certificate = X509CertificateLoader.LoadCertificate(leafDer);
        var signature = key.SignData(Data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        Assert.True(certificate.GetRSAPublicKey()!.VerifyData(Data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss));
    }

    [Fact]
    public void LoadSealed_EcPair_PrivateKeyIsEcdsa()
    {
        var (chain, open) = TlsKeyMaterial.LoadSealed(pki.Protector, pki.EcKey, pki.EcCertificate);

        using var key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(open(), out _);
        using var certificate = X509CertificateLoader.LoadCertificate(chain[0]);
        Assert.True(certificate.GetECDsaPublicKey()!.VerifyData(Data, key.SignData(Data, HashAlgorithmName.SHA256), HashAlgorithmName.SHA256));
    }

    [Fact]
    public void LoadSealed_ImportedBundleWithIntermediate_ChainLeafThenIssuer()
    {
        var imported = pki.Importer.ImportFile(files.Path("bundle.p12"), "b", PkiFileType.Pkcs12, OpenSslFiles.Password).Files;

        var (chain, _) = TlsKeyMaterial.LoadSealed(pki.Protector, imported[0], imported[1], [imported[2]]);

        Assert.Equal(2, chain.Count);
        Assert.Equal(imported[1].CertificateDer.ToArray(), chain[0]);
        Assert.Equal(imported[2].CertificateDer.ToArray(), chain[1]);
    }

    [Fact]
    public void LoadSealed_IntermediateThatIsNotTheIssuer_ThrowsExplainingTheOrder()
    {
        var error = Assert.Throws<PkiException>(() => TlsKeyMaterial.LoadSealed(pki.Protector, pki.RsaKey, pki.RsaCertificate, [pki.EcCertificate]));

        Assert.Equal(PkiErrorCode.InvalidArgument, error.Code);
        Assert.Contains("list the chain leaf first, each certificate followed by its issuer", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyMatchesCertificate_OwnCertificate_True()
    {
        Assert.True(TlsKeyMaterial.KeyMatchesCertificate(pki.RsaKey, pki.RsaCertificate));
        Assert.True(TlsKeyMaterial.KeyMatchesCertificate(pki.EcKey, pki.EcCertificate));
    }

    [Fact]
    public void KeyMatchesCertificate_AnotherKeysCertificate_FalseAndEnsureNamesBothFiles()
    {
        var error = Assert.Throws<PkiException>(() => TlsKeyMaterial.EnsureKeyMatchesCertificate(pki.RsaKey, pki.EcCertificate));

        Assert.False(TlsKeyMaterial.KeyMatchesCertificate(pki.RsaKey, pki.EcCertificate));
        Assert.Equal(PkiErrorCode.KeyCertificateMismatch, error.Code);
        Assert.StartsWith("key file 'rsa-key' does not match certificate 'ec-cert' (CN=ec.example.com): the certificate is for an ECDSA P-256 key", error.Message, StringComparison.Ordinal);
        Assert.Contains($"the key file holds RSA 2048 (public key SHA-256 {pki.RsaKey.Sha256Fingerprint})", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnsureKeyMatchesCertificate_ArgumentsSwapped_ThrowsWrongFileKind()
    {
        var error = Assert.Throws<PkiException>(() => TlsKeyMaterial.EnsureKeyMatchesCertificate(pki.RsaCertificate, pki.RsaKey));

        Assert.Equal(PkiErrorCode.WrongFileKind, error.Code);
        Assert.Equal("'rsa-cert' is a certificate file, not a key file", error.Message);
    }

    [Fact]
    public void LoadSealed_RsaPair_CredentialOpensTheKeyOnlyWhenTheEngineAsks()
    {
        var opened = 0;
        var (chain, open) = TlsKeyMaterial.LoadSealed(pki.Protector, pki.RsaKey, pki.RsaCertificate);
        using var credential = ServerCredential.CreateSealed(chain, pki.RsaKey.PublicKeyInfo.Span, () =>
        {
            opened++;
            return open();
        });

        Assert.Equal(0, opened);
        Assert.Equal(ServerKeyType.Rsa, credential.KeyType);
        Assert.Equal(pki.RsaCertificate.CertificateDer.ToArray(), Assert.Single(credential.ChainDer));
        var pkcs8 = credential.ExportPrivateKeyPkcs8();
        Assert.Equal(1, opened);
        using var key = RSA.Create();
        key.ImportPkcs8PrivateKey(pkcs8, out _);
        Assert.Equal(pki.RsaKey.PublicKeyInfo.ToArray(), key.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public void LoadSealed_EcPair_CredentialIsEcdsa()
    {
        var (chain, open) = TlsKeyMaterial.LoadSealed(pki.Protector, pki.EcKey, pki.EcCertificate);
        using var credential = ServerCredential.CreateSealed(chain, pki.EcKey.PublicKeyInfo.Span, open);

        Assert.Equal(ServerKeyType.Ecdsa, credential.KeyType);
        using var key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(credential.ExportPrivateKeyPkcs8(), out _);
        Assert.Equal(pki.EcKey.PublicKeyInfo.ToArray(), key.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public void LoadSealed_KeySealedUnderAnotherMasterKey_ThrowsAtOnceNotAtTheFirstHandshake()
    {
        using var otherMaster = MasterKey.CreateRandom();
        using var other = new KeyProtector(otherMaster);

        var error = Assert.Throws<PkiException>(() => TlsKeyMaterial.LoadSealed(other, pki.RsaKey, pki.RsaCertificate));

        Assert.Equal(PkiErrorCode.MasterKeyMismatch, error.Code);
    }

    [Fact]
    public void CreateSealed_PublicKeyOfAnotherCertificate_ThrowsNamingTheCertificate()
    {
        var (chain, open) = TlsKeyMaterial.LoadSealed(pki.Protector, pki.RsaKey, pki.RsaCertificate);

        var error = Assert.Throws<ArgumentException>(() => ServerCredential.CreateSealed(chain, pki.EcKey.PublicKeyInfo.Span, open));

        Assert.Contains(pki.RsaCertificate.Subject!, error.Message, StringComparison.Ordinal);
        Assert.Contains("has a different public key than the private key given", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateSealed_CredentialDisposed_KeyCannotBeOpened()
    {
        var (chain, open) = TlsKeyMaterial.LoadSealed(pki.Protector, pki.RsaKey, pki.RsaCertificate);
        var credential = ServerCredential.CreateSealed(chain, pki.RsaKey.PublicKeyInfo.Span, open);

        credential.Dispose();

        Assert.Throws<ObjectDisposedException>(() => credential.ExportPrivateKeyPkcs8());
    }
}
