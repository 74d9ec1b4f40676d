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
        var files = Import(master, leafKey, leaf, intermediate);
        Assert.Equal(["web-ca1", "web-cert", "web-key"], files.Keys.Order());

        await using var backend = new EchoBackend();
        var config = ConfigParser.Parse(Config(backend.EndPoint.Port));
        Assert.True(config.Succeeded, string.Join("\n", config.Errors));
        var plan = RuntimePlan.Build(1, config.Config!);
        using var dataPlane = new DataPlane(master, AddressMap.Parse("10.50.0.2=127.0.0.1"), TimeSpan.FromSeconds(5));
        var listener = plan.Listeners.Single(l => l.Port == 443);
        var runtime = dataPlane.Build(plan, listener, files);
        var (port, serve) = ServeOnce(runtime, listener, dataPlane);

        var result = await OpenSslClient.SClientAsync(port,
            $"-showcerts -CAfile {rootPem} -verify_return_error -servername localhost", "ping\n");
        await serve.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Contains("Verify return code: 0 (ok)", result.StandardOutput);
        Assert.Contains(" 1 s:CN = Chain Intermediate", result.StandardOutput);
        Assert.DoesNotContain(" 2 s:", result.StandardOutput);
    }

    [Theory]
    [InlineData('V', "Cert Status: good", false)]
    [InlineData('R', "OCSP response: no response sent", false)]
    [InlineData('V', "Cert Status: good", true)]
    public async Task SClient_StatusRequest_GoodResponseFromTheResponderIsStapledRevokedIsNot(char state, string expected, bool configuredUrl)
    {
        int ocspPort = FreePort();
        using var pki = new Pki(configuredUrl ? null : $"http://127.0.0.1:{ocspPort}/");
        var revoked = state == 'R' ? DateTime.UtcNow.AddHours(-1).ToString("yyMMddHHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture) : "";
        using var responder = await StartResponderAsync(pki, ocspPort, $"{state}\t{pki.Leaf.NotAfter.ToUniversalTime():yyMMddHHmmss}Z\t{revoked}\t{pki.Leaf.SerialNumber}\tunknown\t/CN=localhost\n");
        try
        {
            using var master = MasterKey.CreateRandom();
            var files = Import(master, pki.LeafKey, pki.Leaf, pki.Intermediate);
            await using var backend = new EchoBackend();
            var config = ConfigParser.Parse(Config(backend.EndPoint.Port) +
                (configuredUrl ? $"\nssl-proxy-list front\n  ssl-server 100 ocsp-url \"http://127.0.0.1:{ocspPort}/\"\n" : ""));
            Assert.True(config.Succeeded, string.Join("\n", config.Errors));
            var plan = RuntimePlan.Build(1, config.Config!);
            var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
            using var dataPlane = new DataPlane(master, AddressMap.Parse("10.50.0.2=127.0.0.1"), TimeSpan.FromSeconds(5), log: log.Enqueue);
            var listener = plan.Listeners.Single(l => l.Port == 443);
            var runtime = dataPlane.Build(plan, listener, files);

            // The first fetch runs in the background: poll (bounded) until the answer is in, or the failure is logged.
            var result = await PollStatusAsync(runtime, listener, dataPlane, "-status -servername localhost", 40,
                output => output.Contains("OCSP Response Status: successful", StringComparison.Ordinal) || (state == 'R' && !log.IsEmpty));

            Assert.True(result.StandardOutput.Contains(expected, StringComparison.Ordinal), string.Join("\n", log) + "\n" + result.StandardOutput);
            if (state == 'R')
            {
                Assert.Contains(log, line => line.Contains("the certificate is revoked", StringComparison.Ordinal));
            }
        }
        finally
        {
            responder.Dispose();
        }
    }

    [Theory]
    [InlineData("ECDHE-RSA-AES128-GCM-SHA256")]
    [InlineData("ECDHE-ECDSA-AES128-GCM-SHA256")]
    public async Task SClient_DualCertificateSslServer_StatusOfTheCertificateTheHandshakeUsesIsStapled(string cipher)
    {
        int ocspPort = FreePort();
        var url = $"http://127.0.0.1:{ocspPort}/";
        using var pki = new Pki(url);
        using var ecKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var ecLeaf = Leaf(ecKey, pki.Intermediate, pki.IntermediateKey, url);
        // Only the certificate the client is about to get is known to the responder: a staple for the other one would
        // say "unknown" and is never kept, so a good status proves the right certificate's staple was sent.
        var known = cipher.Contains("RSA", StringComparison.Ordinal) ? pki.Leaf : ecLeaf;
        using var responder = await StartResponderAsync(pki, ocspPort, $"V\t{known.NotAfter.ToUniversalTime():yyMMddHHmmss}Z\t\t{known.SerialNumber}\tunknown\t/CN=localhost\n");
        try
        {
            using var master = MasterKey.CreateRandom();
            var files = Import(master, pki.LeafKey, pki.Leaf, pki.Intermediate);
            foreach (var (name, bytes) in Import(master, ecKey, ecLeaf, pki.Intermediate, "ec")) files[name] = bytes;
            await using var backend = new EchoBackend();
            var config = ConfigParser.Parse(Config(backend.EndPoint.Port) + $"""

                ssl associate ecdsakey ek ec-key
                ssl associate cert ecc ec-cert
                ssl-proxy-list front
                  ssl-server 100 ecdsakey ek
                  ssl-server 100 ecdsacert ecc
                  ssl-server 100 cipher ecdhe-ecdsa-with-aes-128-gcm-sha256 10.50.0.2 {backend.EndPoint.Port}
                """);
            Assert.True(config.Succeeded, string.Join("\n", config.Errors));
            var plan = RuntimePlan.Build(1, config.Config!);
            var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
            using var dataPlane = new DataPlane(master, AddressMap.Parse("10.50.0.2=127.0.0.1"), TimeSpan.FromSeconds(5), log: log.Enqueue);
            var listener = plan.Listeners.Single(l => l.Port == 443);
            var runtime = dataPlane.Build(plan, listener, files);

            // Two fetches start at once (one per certificate) and the responder answers one connection at a time: a
            // failed fetch is retried within seconds.
            var result = await PollStatusAsync(runtime, listener, dataPlane, $"-status -servername localhost -tls1_2 -cipher {cipher}", 80,
                output => output.Contains("Cert Status: good", StringComparison.Ordinal));

            Assert.True(result.StandardOutput.Contains("Cert Status: good", StringComparison.Ordinal), string.Join("\n", log) + "\n" + result.StandardOutput);
            // OpenSSL prints the serial's bytes as hex pairs, without DER's leading zero byte but with a first byte's leading 0.
            var serial = known.SerialNumber;
            while (serial.Length > 2 && serial.StartsWith("00", StringComparison.Ordinal)) serial = serial[2..];
            Assert.Contains("Serial Number: " + serial, result.StandardOutput, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            responder.Dispose();
        }
    }

    [Fact]
    public async Task SClient_ResponderAcceptsButNeverAnswers_HandshakesGoOnAtOnceWithoutAStaple()
    {
        // A responder that takes the connection and says nothing (SSLM caveat CSCsl74182): the fetch is never on the
        // handshake path, so clients are served at once, without a staple.
        using var silent = new SilentListener();
        using var pki = new Pki();
        using var master = MasterKey.CreateRandom();
        var files = Import(master, pki.LeafKey, pki.Leaf, pki.Intermediate);
        await using var backend = new EchoBackend();
        var config = ConfigParser.Parse(Config(backend.EndPoint.Port) +
            $"\nssl-proxy-list front\n  ssl-server 100 ocsp-url \"{silent.Url}\"\n");
        Assert.True(config.Succeeded, string.Join("\n", config.Errors));
        var plan = RuntimePlan.Build(1, config.Config!);
        using var dataPlane = new DataPlane(master, AddressMap.Parse("10.50.0.2=127.0.0.1"), TimeSpan.FromSeconds(5), log: _ => { });
        var listener = plan.Listeners.Single(l => l.Port == 443);
        var runtime = dataPlane.Build(plan, listener, files);
        var (port, serve) = ServeOnce(runtime, listener, dataPlane);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var result = await OpenSslClient.SClientAsync(port, "-status -servername localhost", "ping\n");
        await serve.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Contains("OCSP response: no response sent", result.StandardOutput);
        Assert.Contains("New, TLSv1", result.StandardOutput);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"the handshake took {watch.Elapsed}");
    }

    /// <summary>What an operator imports: the key, its certificate and the intermediate (or not), in one PEM.</summary>
    private static Dictionary<string, byte[]> Import(MasterKey master, AsymmetricAlgorithm leafKey, X509Certificate2 leaf, X509Certificate2? intermediate,
        string name = "web")
    {
        var pem = leafKey.ExportPkcs8PrivateKeyPem() + "\n" + leaf.ExportCertificatePem() + (intermediate is null ? "" : "\n" + intermediate.ExportCertificatePem());
        return new CertStoreImporter(new KeyProtector(master), TimeProvider.System)
            .Import(Encoding.ASCII.GetBytes(pem), "test", name, PkiFileType.Pem, "s3cret pass").Files.ToDictionary(f => f.Name, f => f.Encode());
    }

    /// <summary>
    /// <c>openssl ocsp</c> on <paramref name="port"/>, signing as the intermediate, answering from
    /// <paramref name="indexLines"/> (its index.txt format); returned once it listens.
    /// </summary>
    private Task<OpenSslOcspResponder> StartResponderAsync(Pki pki, int port, string indexLines) =>
        OpenSslOcspResponder.StartAsync(_folder, pki.Intermediate, pki.IntermediateKeyPem, indexLines, port: port);

    /// <summary>
    /// Connects <c>openssl s_client</c> with <paramref name="arguments"/> to a fresh served port, every 250 ms, at most
    /// <paramref name="attempts"/> times, until its output satisfies <paramref name="done"/>; the last result.
    /// </summary>
    private static async Task<ProcessResult> PollStatusAsync(IListenerRuntime runtime, ListenerPlan listener, DataPlane dataPlane,
        string arguments, int attempts, Func<string, bool> done)
    {
        ProcessResult result = null!;
        for (int attempt = 0; attempt < attempts; attempt++)
        {
            var (port, serve) = ServeOnce(runtime, listener, dataPlane);
            result = await OpenSslClient.SClientAsync(port, arguments, "ping\n");
            await serve.WaitAsync(TimeSpan.FromSeconds(20));
            if (done(result.StandardOutput)) break;
            await Task.Delay(250);
        }

        return result;
    }

    /// <summary>A loopback port whose first connection the runtime serves as module ssl2 would; the serving task.</summary>
    private static (int Port, Task Serve) ServeOnce(IListenerRuntime runtime, ListenerPlan listener, DataPlane dataPlane)
    {
        var accept = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        accept.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        accept.Listen(1);
        var serve = Task.Run(async () =>
        {
            using (accept)
            {
                using var socket = await accept.AcceptAsync();
                await runtime.RunAsync(socket, listener.Modules.Single(), dataPlane.Flows.For("ssl2", "10.50.0.1", 443),
                    new ConnectionState(1, "ssl2", null, DateTimeOffset.UtcNow), CancellationToken.None);
            }
        });
        return (((IPEndPoint)accept.LocalEndPoint!).Port, serve);
    }

    private static int FreePort() => OpenSslOcspResponder.FreePort();

    [Fact]
    public void ChainsCurrent_IntermediateImportedAfterTheRuntimeWasBuilt_False()
    {
        using var pki = new Pki();
        var (root, intermediate, leafKey, leaf) = (pki.Root, pki.Intermediate, pki.LeafKey, pki.Leaf);
        using var master = MasterKey.CreateRandom();
        var withoutIntermediate = Import(master, leafKey, leaf, null);
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

        public Pki(string? ocspUrl = null)
        {
            Root = Ca("CN=Chain Root", _rootKey, null, null, DateTimeOffset.UtcNow.AddYears(5));
            Intermediate = Ca("CN=Chain Intermediate", _intermediateKey, Root, _rootKey, DateTimeOffset.UtcNow.AddYears(2));
            Leaf = ChainFromStoreTests.Leaf(LeafKey, Intermediate, _intermediateKey, ocspUrl);
        }

        /// <summary>The intermediate's key, to issue more leaves.</summary>
        public ECDsa IntermediateKey => _intermediateKey;

        /// <summary>The intermediate's key in PEM, for <c>openssl ocsp -rkey</c>.</summary>
        public string IntermediateKeyPem => _intermediateKey.ExportPkcs8PrivateKeyPem();

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

    private static X509Certificate2 Leaf(AsymmetricAlgorithm key, X509Certificate2 issuer, ECDsa issuerKey, string? ocspUrl = null)
    {
        var request = key is RSA rsa
            ? new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest("CN=localhost", (ECDsa)key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        if (ocspUrl is not null)
        {
            request.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension([ocspUrl], null));
        }

        return request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), DateTimeOffset.UtcNow.AddHours(-1),
            DateTimeOffset.UtcNow.AddDays(30), RandomNumberGenerator.GetBytes(12));
    }

    private static byte[] File(string name, X509Certificate2 certificate) =>
        CertStoreFile.FromCertificate(name, certificate.RawData, DateTimeOffset.UtcNow).Encode();
}
