using System.Security.Cryptography;
using SslCluster.OpenSsl;
using SslCluster.TestSupport;

namespace SslCluster.Protocol.Tests.Support;

/// <summary>Test certificates in the form the OpenSSL binding takes: the chain as DER and the key as PKCS#8.</summary>
internal static class OpenSslTestCredentials
{
    public static ServerCertificate ServerCertificate(TestCertificate certificate) => new(
        [certificate.Der],
        certificate.Key switch
        {
            RSA rsa => rsa.ExportPkcs8PrivateKey(),
            ECDsa ecdsa => ecdsa.ExportPkcs8PrivateKey(),
            _ => throw new NotSupportedException(),
        });
}
