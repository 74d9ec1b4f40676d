using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Runtime;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// An ssl-server's chain completed from the certificate store: the intermediates found by issuer name and key, sent
/// after the leaf, the root never.
/// </summary>
public sealed class ChainFromStoreTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sslcluster-chain-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void IntermediatesOf_RenewedIntermediateWithTheSameName_FollowsTheKeyThatSignedAndStopsBelowTheRoot()
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var root = Ca("CN=Chain Root", rootKey, null, null, DateTimeOffset.UtcNow.AddYears(5));
        using var intermediateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var intermediate = Ca("CN=Chain Intermediate", intermediateKey, root, rootKey, DateTimeOffset.UtcNow.AddYears(2));

        // Same subject, another key, valid longer: a name match alone would pick it.
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var impostor = Ca("CN=Chain Intermediate", otherKey, root, rootKey, DateTimeOffset.UtcNow.AddYears(4));
        using var leafKey = RSA.Create(2048);
        using var leaf = Leaf(leafKey, intermediate, intermediateKey);
        var files = new Dictionary<string, byte[]>
        {
            ["root"] = File("root", root),
            ["impostor"] = File("impostor", impostor),
            ["inter"] = File("inter", intermediate),
            ["leaf"] = File("leaf", leaf),
        };

        var chain = IssuerIndex.Of(files).IntermediatesOf(CertStoreFile.DecodeShared(files["leaf"]), DateTimeOffset.UtcNow);

        Assert.Equal(["inter"], chain.Select(c => c.Name));
        Assert.Same(IssuerIndex.Of(files), IssuerIndex.Of(files));
        Assert.Empty(IssuerIndex.Of(files).IntermediatesOf(CertStoreFile.DecodeShared(files["root"]), DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task SClient_LeafImportedWithItsIntermediate_ChainSentAndVerifiesAgainstTheRootAlone()
    {
        using var pki = new Pki();
        var (root, intermediate, leafKey, leaf) = (pki.Root, pki.Intermediate, pki.LeafKey, pki.Leaf);
        var rootPem = Path.Combine(_folder, "root.pem");
        await System.IO.File.WriteAllTextAsync(rootPem, root.ExportCertificatePem());

        // What an operator imports: the key, its certificate and the intermediate, in one PEM (web-key, web-cert, web-ca1).
        using var master = MasterKey.CreateRandom();
        var pem = leafKey.ExportPkcs8PrivateKeyPem() + "\n" + leaf.ExportCertificatePem() + "\n" + intermediate.ExportCertificatePem();
        var imported = new CertStoreImporter(new KeyProtector(master), TimeProvider.System)
            .Import(Encoding.ASCII.GetBytes(pem), "test", "web", PkiFileType.Pem, "s3cret pass");
        var files = imported.Files.ToDictionary(f => f.Name, f => f.Encode());
        Assert.Equal(["web-ca1", "web-cert", "web-key"], files.Keys.Order());

        await using var backend = new EchoBackend();
        var config = ConfigParser.Parse(Config(backend.EndPoint.Port));
        Assert.True(config.Succeeded, string.Join("\n", config.Errors));
        var plan = RuntimePlan.Build(1, config.Config!);
        using var dataPlane = new DataPlane(master, AddressMap.Parse("10.50.0.2=127.0.0.1"), TimeSpan.FromSeconds(5));
        var listener = plan.Listeners.Single(l => l.Port == 443);
        var runtime = dataPlane.Build(plan, listener, files);
        using var accept = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        accept.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        accept.Listen(1);
        var serve = Task.Run(async () =>
        {
            using var socket = await accept.AcceptAsync();
            await runtime.RunAsync(socket, listener.Modules.Single(), dataPlane.Flows.For("ssl2", "10.50.0.1", 443),
                new ConnectionState(1, "ssl2", null, DateTimeOffset.UtcNow), CancellationToken.None);
        });

        var result = await OpenSslClient.SClientAsync(((IPEndPoint)accept.LocalEndPoint!).Port,
            $"-showcerts -CAfile {rootPem} -verify_return_error -servername localhost", "ping\n");
        await serve.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Contains("Verify return code: 0 (ok)", result.StandardOutput);
        Assert.Contains(" 1 s:CN = Chain Intermediate", result.StandardOutput);
        Assert.DoesNotContain(" 2 s:", result.StandardOutput);
    }

    [Fact]
    public void ChainsCurrent_IntermediateImportedAfterTheRuntimeWasBuilt_False()
    {
        using var pki = new Pki();
        var (root, intermediate, leafKey, leaf) = (pki.Root, pki.Intermediate, pki.LeafKey, pki.Leaf);
        using var master = MasterKey.CreateRandom();
        var pem = leafKey.ExportPkcs8PrivateKeyPem() + "\n" + leaf.ExportCertificatePem();
        var withoutIntermediate = new CertStoreImporter(new KeyProtector(master), TimeProvider.System)
            .Import(Encoding.ASCII.GetBytes(pem), "test", "web", PkiFileType.Pem, "s3cret pass").Files.ToDictionary(f => f.Name, f => f.Encode());
        var config = ConfigParser.Parse(Config(80));
        Assert.True(config.Succeeded, string.Join("\n", config.Errors));
        var plan = RuntimePlan.Build(1, config.Config!);
        using var dataPlane = new DataPlane(master, AddressMap.Parse(""), TimeSpan.FromSeconds(5));
        var runtime = dataPlane.Build(plan, plan.Listeners.Single(), withoutIntermediate);
        var later = new Dictionary<string, byte[]>(withoutIntermediate) { ["inter"] = File("inter", intermediate) };

        Assert.True(runtime.ChainsCurrent(new Dictionary<string, byte[]>(withoutIntermediate)));
        Assert.False(runtime.ChainsCurrent(later));
    }

    /// <summary>The configuration of the chain tests: ssl-server 100 with the imported key and certificate.</summary>
    private static string Config(int backendPort) => $"""
        ssl associate rsakey k web-key
        ssl associate cert c web-cert
        ssl-proxy-list front
          ssl-server 100
          ssl-server 100 rsakey k
          ssl-server 100 rsacert c
          ssl-server 100 vip address 10.50.0.1
          ssl-server 100 cipher ecdhe-rsa-with-aes-128-gcm-sha256 10.50.0.2 {backendPort}
          active
        service ssl2
          type ssl-accel
          slot 2
          add ssl-proxy-list front
          active
        owner o
          content SSL-VIP
            vip address 10.50.0.1
            port 443
            add service ssl2
            active
        """;

    /// <summary>A root, an intermediate it signed, and an RSA leaf the intermediate signed.</summary>
    private sealed class Pki : IDisposable
    {
        private readonly ECDsa _rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        private readonly ECDsa _intermediateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        public Pki()
        {
            Root = Ca("CN=Chain Root", _rootKey, null, null, DateTimeOffset.UtcNow.AddYears(5));
            Intermediate = Ca("CN=Chain Intermediate", _intermediateKey, Root, _rootKey, DateTimeOffset.UtcNow.AddYears(2));
            Leaf = ChainFromStoreTests.Leaf(LeafKey, Intermediate, _intermediateKey);
        }

        public X509Certificate2 Root { get; }

        public X509Certificate2 Intermediate { get; }

        public RSA LeafKey { get; } = RSA.Create(2048);

        public X509Certificate2 Leaf { get; }

        public void Dispose()
        {
            Leaf.Dispose();
            LeafKey.Dispose();
            Intermediate.Dispose();
            Root.Dispose();
            _intermediateKey.Dispose();
            _rootKey.Dispose();
        }
    }

    private static X509Certificate2 Ca(string subject, ECDsa key, X509Certificate2? issuer, ECDsa? issuerKey, DateTimeOffset notAfter)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var from = DateTimeOffset.UtcNow.AddHours(-1);
        if (issuer is null)
        {
            return request.CreateSelfSigned(from, notAfter);
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        using var signed = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey!), from,
            notAfter < issuer.NotAfter ? notAfter : issuer.NotAfter, RandomNumberGenerator.GetBytes(12));
        return signed.CopyWithPrivateKey(key);
    }

    private static X509Certificate2 Leaf(RSA key, X509Certificate2 issuer, ECDsa issuerKey)
    {
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        return request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), DateTimeOffset.UtcNow.AddHours(-1),
            DateTimeOffset.UtcNow.AddDays(30), RandomNumberGenerator.GetBytes(12));
    }

    private static byte[] File(string name, X509Certificate2 certificate) =>
        CertStoreFile.FromCertificate(name, certificate.RawData, DateTimeOffset.UtcNow).Encode();
}
