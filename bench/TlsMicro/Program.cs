using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Tls;
using SslCluster.Protocol.Tls;

// In-memory TLS micro-benchmark: a BouncyCastle client and our server protocol exchange bytes through arrays.
// Only the time spent inside server-side calls (Accept, OfferInput, ReadOutput, ...) is counted for handshakes,
// so the client's work does not pollute the figure. One thread: figures are per core.

var invariant = CultureInfo.InvariantCulture;
int scale = args.Length > 0 ? int.Parse(args[0], invariant) : 1;
Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} cores, {RuntimeInformationText()}");
Console.WriteLine();

using var rsa = Credentials.Create(ecdsa: false);
using var ecdsa = Credentials.Create(ecdsa: true);

Primitives.Run(rsa, ecdsa);
Console.WriteLine();
Console.WriteLine("Server-side full handshakes (in memory, one core; median of 3 interleaved rounds):");
var handshakeCases = new (string Name, Credentials Credentials, ProtocolVersion Version, int Suite, int Count)[]
{
    ("TLS 1.2 ECDHE-RSA-2048 AES128-GCM", rsa, ProtocolVersion.TLSv12,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 100 * scale),
    ("TLS 1.3 RSA-2048 (PSS) AES128-GCM", rsa, ProtocolVersion.TLSv13, CipherSuite.TLS_AES_128_GCM_SHA256,
        100 * scale),
    ("TLS 1.3 ECDSA-P256 AES128-GCM", ecdsa, ProtocolVersion.TLSv13, CipherSuite.TLS_AES_128_GCM_SHA256,
        400 * scale),
    ("TLS 1.2 ECDHE-ECDSA-P256 AES128-GCM", ecdsa, ProtocolVersion.TLSv12,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 400 * scale),
};
var providers = new[] { TlsCryptoProvider.Native, TlsCryptoProvider.BouncyCastle };
foreach (var c in handshakeCases)
{
    foreach (var provider in providers)
    {
        // Warm-up: let the JIT reach its optimised tier on every path before anything is timed.
        Handshakes.Measure(provider, c.Credentials, c.Version, c.Suite, 50);
    }
}

foreach (var c in handshakeCases)
{
    var rounds = providers.ToDictionary(p => p, _ => new List<double>());
    for (int round = 0; round < 3; round++)
    {
        foreach (var provider in providers)
        {
            rounds[provider].Add(Handshakes.Measure(provider, c.Credentials, c.Version, c.Suite, c.Count));
        }
    }

    foreach (var provider in providers)
    {
        double ms = rounds[provider].Order().ElementAt(1);
        Console.WriteLine(string.Create(invariant,
            $"  {c.Name,-36} {provider,-12} {ms,7:0.000} ms/handshake  {1000 / ms,8:0} /s  (n=3x{c.Count})"));
    }
}

Console.WriteLine();
Console.WriteLine("Record throughput, 16 KiB application writes (server encrypts / server decrypts):");
foreach (var provider in new[] { TlsCryptoProvider.Native, TlsCryptoProvider.BouncyCastle })
{
    Records.Run("TLS 1.3 AES-128-GCM", provider, ecdsa, ProtocolVersion.TLSv13, CipherSuite.TLS_AES_128_GCM_SHA256,
        256 * scale);
    Records.Run("TLS 1.2 AES-256-GCM", provider, ecdsa, ProtocolVersion.TLSv12,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 256 * scale);
    Records.Run("TLS 1.3 ChaCha20-Poly1305", provider, ecdsa, ProtocolVersion.TLSv13,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256, 256 * scale);
}

static string RuntimeInformationText() => System.Runtime.InteropServices.RuntimeInformation.OSDescription;

/// <summary>The native signatures alone, to compare the handshake figures with.</summary>
internal static class Primitives
{
    public static void Run(Credentials rsa, Credentials ecdsa)
    {
        using var rsaKey = RSA.Create(2048);
        using var ecKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        byte[] hash = SHA256.HashData("bench"u8);
        Measure("RSA-2048 PKCS#1 SHA-256 sign", () => rsaKey.SignHash(hash, HashAlgorithmName.SHA256,
            RSASignaturePadding.Pkcs1), 500);
        Measure("RSA-2048 PSS SHA-256 sign", () => rsaKey.SignHash(hash, HashAlgorithmName.SHA256,
            RSASignaturePadding.Pss), 500);
        Measure("ECDSA P-256 sign (DER)", () => ecKey.SignHash(hash, DSASignatureFormat.Rfc3279DerSequence), 5000);
        byte[] key = new byte[16];
        Measure("AesGcm key setup (new + Dispose)", () => new AesGcm(key, 16).Dispose(), 5000);
        GC.KeepAlive(rsa);
        GC.KeepAlive(ecdsa);
    }

    private static void Measure(string name, Action action, int count)
    {
        for (int i = 0; i < count / 10; i++)
        {
            action();
        }

        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            action();
        }

        double perSecond = count / Stopwatch.GetElapsedTime(start).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-36} {perSecond,8:0} /s"));
    }
}

/// <summary>An ssl-server credential and its certificate, generated at start.</summary>
internal sealed class Credentials : IDisposable
{
    private Credentials(ServerCredential credential) => Credential = credential;

    public ServerCredential Credential { get; }

    public static Credentials Create(bool ecdsa)
    {
        AsymmetricAlgorithm key = ecdsa ? ECDsa.Create(ECCurve.NamedCurves.nistP256) : RSA.Create(2048);
        var request = key is RSA r
            ? new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=bench", r, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=bench", (ECDsa)key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1),
            DateTimeOffset.UtcNow.AddDays(1));
        return new Credentials(ServerCredential.Create([certificate.RawData], key));
    }

    public void Dispose() => Credential.Dispose();
}

/// <summary>One client and one server protocol wired back to back through byte arrays.</summary>
internal sealed class Pair
{
    private readonly byte[] _buffer = new byte[64 * 1024];

    public Pair(TlsEngine engine, TlsFrontEndBinding binding, ProtocolVersion version, int suite)
    {
        Server = new OffloadTlsServerProtocol();
        Client = new TlsClientProtocol();
        ServerTicks = Time(() => Server.Accept(engine.CreateServer(_ => binding)));
        Client.Connect(new BenchClient(version, suite));
        while (!Client.IsConnected || Server.IsHandshaking)
        {
            bool moved = false;
            while (Client.GetAvailableOutputBytes() > 0)
            {
                int n = Client.ReadOutput(_buffer, 0, _buffer.Length);
                ServerTicks += Time(() => Server.OfferInput(_buffer, 0, n));
                moved = true;
            }

            while (true)
            {
                int n = 0;
                ServerTicks += Time(() => n = Server.ReadOutput(_buffer, 0, _buffer.Length));
                if (n == 0)
                {
                    break;
                }

                Client.OfferInput(_buffer, 0, n);
                moved = true;
            }

            if (!moved)
            {
                throw new InvalidOperationException("handshake stalled");
            }
        }
    }

    public OffloadTlsServerProtocol Server { get; }

    public TlsClientProtocol Client { get; }

    public long ServerTicks { get; private set; }

    private static long Time(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetTimestamp() - start;
    }

    private sealed class BenchClient(ProtocolVersion version, int suite) : DefaultTlsClient(new NativeTlsCrypto())
    {
        protected override ProtocolVersion[] GetSupportedVersions() => [version];

        protected override int[] GetSupportedCipherSuites() => [suite];

        public override TlsAuthentication GetAuthentication() => new AcceptAny();
    }

    private sealed class AcceptAny : TlsAuthentication
    {
        public void NotifyServerCertificate(TlsServerCertificate serverCertificate)
        {
            // In-memory benchmark against our own generated certificate.
        }

        public TlsCredentials? GetClientCredentials(Org.BouncyCastle.Tls.CertificateRequest certificateRequest) =>
            null;
    }
}

internal static class Handshakes
{
    /// <summary>Mean server-side milliseconds per full handshake over <paramref name="count"/> handshakes.</summary>
    public static double Measure(TlsCryptoProvider provider, Credentials credentials, ProtocolVersion version,
        int suite, int count)
    {
        var engine = new TlsEngine(new TlsEngineOptions { CryptoProvider = provider });
        var binding = new TlsFrontEndBinding(credentials.Credential, "bench");
        long ticks = 0;
        for (int i = 0; i < count; i++)
        {
            ticks += new Pair(engine, binding, version, suite).ServerTicks;
        }

        return ticks * 1000.0 / Stopwatch.Frequency / count;
    }
}

internal static class Records
{
    public static void Run(string name, TlsCryptoProvider provider, Credentials credentials, ProtocolVersion version,
        int suite, int mebibytes)
    {
        var engine = new TlsEngine(new TlsEngineOptions { CryptoProvider = provider });
        var binding = new TlsFrontEndBinding(credentials.Credential, "bench");
        var pair = new Pair(engine, binding, version, suite);
        byte[] plain = new byte[16 * 1024];
        RandomNumberGenerator.Fill(plain);
        byte[] wire = new byte[64 * 1024];
        int records = mebibytes * 64;

        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < records; i++)
        {
            pair.Server.WriteApplicationData(plain, 0, plain.Length);
            while (pair.Server.ReadOutput(wire, 0, wire.Length) > 0)
            {
            }
        }

        double encryptSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long allocatedPerRecord = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / records;

        // Decrypt direction: the client seals records once, the server opens them (timed alone).
        var sealedRecords = new List<byte[]>(64);
        for (int i = 0; i < 64; i++)
        {
            pair.Client.WriteApplicationData(plain, 0, plain.Length);
            var output = new byte[pair.Client.GetAvailableOutputBytes()];
            pair.Client.ReadOutput(output, 0, output.Length);
            sealedRecords.Add(output);
        }

        // Records carry sequence numbers, so each must be opened once, in order: re-seal batches as needed.
        long decryptTicks = 0;
        int opened = 0;
        while (opened < records)
        {
            foreach (var record in sealedRecords)
            {
                long t = Stopwatch.GetTimestamp();
                pair.Server.OfferInput(record, 0, record.Length);
                while (pair.Server.ReadInput(wire, 0, wire.Length) > 0)
                {
                }

                decryptTicks += Stopwatch.GetTimestamp() - t;
                opened++;
            }

            sealedRecords.Clear();
            for (int i = 0; i < 64 && opened < records; i++)
            {
                pair.Client.WriteApplicationData(plain, 0, plain.Length);
                var output = new byte[pair.Client.GetAvailableOutputBytes()];
                pair.Client.ReadOutput(output, 0, output.Length);
                sealedRecords.Add(output);
            }
        }

        double decryptSeconds = (double)decryptTicks / Stopwatch.Frequency;
        double bytes = (double)records * plain.Length / 1e6;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {name,-36} {provider,-12} encrypt {bytes / encryptSeconds,7:0} MB/s  decrypt " +
            $"{opened * (double)plain.Length / 1e6 / decryptSeconds,7:0} MB/s  ({allocatedPerRecord} B allocated per " +
            $"sealed record)"));
    }
}
