using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace SslCluster.TestSupport;

/// <summary>Server certificates issued by a <see cref="TestCertificateAuthority"/> (EKU serverAuth), valid or expired.</summary>
public static class ServerCertificates
{
    private static long _serial = 0x7000;

    /// <summary>
    /// A server certificate for <paramref name="commonName"/> (SAN localhost and 127.0.0.1), ECDSA P-256 or RSA-2048,
    /// valid from five minutes ago for two days unless a period is given.
    /// </summary>
    public static TestCertificate Issue(TestCertificateAuthority ca, string commonName, bool ecdsa = true,
        DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        ArgumentNullException.ThrowIfNull(ca);
        AsymmetricAlgorithm key = ecdsa ? ECDsa.Create(ECCurve.NamedCurves.nistP256) : RSA.Create(2048);
        var request = key is ECDsa ec
            ? new CertificateRequest("CN=" + commonName, ec, HashAlgorithmName.SHA256)
            : new CertificateRequest("CN=" + commonName, (RSA)key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            ecdsa ? X509KeyUsageFlags.DigitalSignature : X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca.Certificate, true, false));
        var now = DateTimeOffset.UtcNow;
        var from = notBefore ?? now.AddMinutes(-5);
        var to = notAfter ?? now.AddDays(2);
        byte[] serial = BitConverter.GetBytes(Interlocked.Increment(ref _serial));
        Array.Reverse(serial);
        // The CA's key is ECDSA: an RSA request needs the CA's signature generator named explicitly.
        using var caKey = ca.Certificate.GetECDsaPrivateKey()!;
        using var certificate = request.Create(ca.Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey),
            from < ca.Certificate.NotBefore ? ca.Certificate.NotBefore : from,
            to > ca.Certificate.NotAfter ? ca.Certificate.NotAfter : to, serial);
        string directory = Path.Combine(Path.GetTempPath(), "sslcluster-server-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return new TestCertificate(certificate.RawData, key, directory);
    }

    /// <summary>The certificate with its private key, as SslStream wants it for a server.</summary>
    public static X509Certificate2 WithKey(TestCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var pem = X509Certificate2.CreateFromPemFile(certificate.CertificatePemPath, certificate.KeyPemPath);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }
}

/// <summary>What an <see cref="SslStreamBackend"/> does with each connection.</summary>
public enum SslBackendMode
{
    /// <summary>TLS handshake, then echo until EOF or close_notify, then close.</summary>
    Echo,

    /// <summary>TLS handshake, read one chunk, answer "answer:" + the chunk repeated to <c>answerBytes</c>, then close_notify and close.</summary>
    AnswerThenClose,

    /// <summary>Accepts TCP and never says anything (a handshake timeout).</summary>
    Silent,

    /// <summary>Reads the ClientHello and closes the TCP connection.</summary>
    CloseMidHandshake,

    /// <summary>TLS handshake, read everything until the client's close_notify, then answer "answer:" + it and close (TLS 1.3 half-close).</summary>
    ReplyAfterClose,

    /// <summary>Like <see cref="AnswerThenClose"/>, but the TCP connection ends with a FIN and no close_notify (a cut-off answer).</summary>
    AnswerThenFinWithoutCloseNotify,
}

/// <summary>A real TLS server on 127.0.0.1 (.NET SslStream) for the back-end side of re-encrypted flows.</summary>
public sealed class SslStreamBackend : LoopbackServer
{
    private readonly X509Certificate2 _certificate;
    private readonly SslProtocols _protocols;
    private readonly bool _requireClientCertificate;
    private readonly SslBackendMode _mode;
    private readonly int _answerBytes;
    private int _handshakes;
    private int _failures;

    public SslStreamBackend(X509Certificate2 certificate, SslProtocols protocols, SslBackendMode mode = SslBackendMode.Echo,
        bool requireClientCertificate = false, int answerBytes = 0)
    {
        _certificate = certificate;
        _protocols = protocols;
        _mode = mode;
        _requireClientCertificate = requireClientCertificate;
        _answerBytes = answerBytes;
    }

    /// <summary>Completed server handshakes.</summary>
    public int Handshakes => Volatile.Read(ref _handshakes);

    /// <summary>Handshakes that failed on the server.</summary>
    public int Failures => Volatile.Read(ref _failures);

    /// <summary>Subject of the last client certificate received.</summary>
    public string? LastClientSubject { get; private set; }

    /// <summary>The SNI name the last client sent ("" when none).</summary>
    public string? LastServerName { get; private set; }

    /// <summary>The protocol negotiated last.</summary>
    public SslProtocols LastProtocol { get; private set; }

    /// <summary>True once a connection of this server saw the peer's close (close_notify or EOF) after data.</summary>
    public bool SawClientClose { get; private set; }

    protected override async Task HandleAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        if (_mode == SslBackendMode.Silent)
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken) > 0)
            {
            }

            return;
        }

        if (_mode == SslBackendMode.CloseMidHandshake)
        {
            await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            socket.Shutdown(SocketShutdown.Both);
            return;
        }

        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(15));
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _certificate,
                EnabledSslProtocols = _protocols,
                ClientCertificateRequired = _requireClientCertificate,
                RemoteCertificateValidationCallback = (_, cert, _, _) => !_requireClientCertificate || cert is not null,
            }, timeout.Token);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
        {
            Interlocked.Increment(ref _failures);
            return;
        }

        Interlocked.Increment(ref _handshakes);
        LastProtocol = ssl.SslProtocol;
        LastServerName = ssl.TargetHostName;
        LastClientSubject = ssl.RemoteCertificate?.Subject;
        try
        {
            if (_mode is SslBackendMode.AnswerThenClose or SslBackendMode.AnswerThenFinWithoutCloseNotify)
            {
                int n = await ssl.ReadAsync(buffer, cancellationToken);
                var prefix = Encoding.ASCII.GetBytes("answer:");
                var answer = new byte[Math.Max(_answerBytes, prefix.Length + n)];
                prefix.CopyTo(answer, 0);
                for (int i = prefix.Length; i < answer.Length; i++)
                {
                    answer[i] = n > 0 ? buffer[(i - prefix.Length) % n] : (byte)'x';
                }

                await ssl.WriteAsync(answer, cancellationToken);
                if (_mode == SslBackendMode.AnswerThenClose)
                {
                    await ssl.ShutdownAsync();
                }

                socket.Shutdown(SocketShutdown.Send);
                // Drain until the peer closes too, so our FIN is not turned into a reset.
                try
                {
                    while (await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken) > 0)
                    {
                    }
                }
                catch (SocketException)
                {
                }

                return;
            }

            if (_mode == SslBackendMode.ReplyAfterClose)
            {
                var all = new MemoryStream();
                all.Write("answer:"u8);
                int read;
                while ((read = await ssl.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    all.Write(buffer, 0, read);
                }

                SawClientClose = true;
                await ssl.WriteAsync(all.ToArray(), cancellationToken);
                await ssl.ShutdownAsync();
                return;
            }

            while (true)
            {
                int n = await ssl.ReadAsync(buffer, cancellationToken);
                if (n == 0)
                {
                    SawClientClose = true;
                    await ssl.ShutdownAsync();
                    return;
                }

                await ssl.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
            }
        }
        catch (IOException)
        {
            // The client went away.
        }
    }
}

/// <summary>
/// <c>openssl s_server</c> on 127.0.0.1 with <c>-www</c>: answers "GET /" with a page saying "New" or "Reused"
/// (session resumption) and the protocol. Killed at dispose.
/// </summary>
public sealed class OpenSslServer : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private OpenSslServer(Process process, int port)
    {
        _process = process;
        Port = port;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
    }

    public int Port { get; }

    public IPEndPoint EndPoint { get; }

    /// <summary>What the server printed so far (stdout and stderr).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the server and waits (bounded) until it accepts connections.</summary>
    public static async Task<OpenSslServer> StartAsync(TestCertificate certificate, params string[] extra)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        for (int attempt = 0; attempt < 3; attempt++)
        {
            int port = FreePort();
            var start = new ProcessStartInfo("openssl")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "s_server", "-accept", "127.0.0.1:" + port, "-cert", certificate.CertificatePemPath, "-key", certificate.KeyPemPath, "-www" }.Concat(extra))
            {
                start.ArgumentList.Add(a);
            }

            var process = Process.Start(start)!;
            var server = new OpenSslServer(process, port);
            process.OutputDataReceived += (_, e) => server.Append(e.Data);
            process.ErrorDataReceived += (_, e) => server.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (DateTime.UtcNow < deadline && !process.HasExited)
            {
                if (server.Output.Contains("ACCEPT", StringComparison.Ordinal))
                {
                    return server;
                }

                await Task.Delay(20);
            }

            server.Dispose();
        }

        throw new InvalidOperationException("openssl s_server did not start");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static int FreePort() => Ports.Free();
}
