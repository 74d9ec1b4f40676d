using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SslCluster.TestSupport;

/// <summary>
/// A self-signed root CA and a subordinate CA it issued (ECDSA P-256), issuing leaf certificates: for the tests of
/// paths through an intermediate (certificate maps, cert-trim, min-chain-length, chains from the store).
/// </summary>
public sealed class TestChain : IDisposable
{
    private readonly ECDsa _rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _intermediateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _intermediateWithKey;
    private int _serial = 0x100;

    /// <param name="name">Names the two CAs: "NAME Root CA" and "NAME Issuing CA".</param>
    public TestChain(string name)
    {
        var now = DateTimeOffset.UtcNow;
        var rootRequest = new CertificateRequest($"CN={name} Root CA", _rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        Root = rootRequest.CreateSelfSigned(now.AddDays(-10), now.AddDays(30));
        var request = new CertificateRequest($"CN={name} Issuing CA", _intermediateKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        Intermediate = request.Create(Root, now.AddDays(-5), now.AddDays(20), [0x21]);
        _intermediateWithKey = Intermediate.CopyWithPrivateKey(_intermediateKey);
    }

    /// <summary>The root (with its key).</summary>
    public X509Certificate2 Root { get; }

    /// <summary>The subordinate CA (public part).</summary>
    public X509Certificate2 Intermediate { get; }

    /// <summary>
    /// A leaf the subordinate CA issued for <c>CN=<paramref name="commonName"/></c> (EKU clientAuth), valid from an hour
    /// ago for two days unless a period is given; its DER.
    /// </summary>
    public byte[] Leaf(string commonName, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + commonName, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        var now = DateTimeOffset.UtcNow;
        var serial = BitConverter.GetBytes(Interlocked.Increment(ref _serial));
        Array.Reverse(serial);
        using var leaf = request.Create(_intermediateWithKey, notBefore ?? now.AddHours(-1), notAfter ?? now.AddDays(2), serial);
        return leaf.RawData;
    }

    public void Dispose()
    {
        _intermediateWithKey.Dispose();
        Intermediate.Dispose();
        Root.Dispose();
        _intermediateKey.Dispose();
        _rootKey.Dispose();
    }
}
