using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;
using SslCluster.OpenSsl;
using SslCluster.Protocol.Tests.Support;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

/// <summary>
/// The OpenSSL binding on its own: a server <see cref="SslConnection"/> driven over a real loopback socket by a small
/// pump, against real clients (.NET's SslStream and openssl s_client).
/// </summary>
public sealed class OpenSslConnectionTests : IDisposable
{
    private readonly TestCertificate _rsa = TestCertificates.CreateRsa("rsa.example");
    private readonly TestCertificate _ecdsa = TestCertificates.CreateEcdsa("ecdsa.example");

    public void Dispose()
    {
        _rsa.Dispose();
        _ecdsa.Dispose();
    }

    [Fact]
    public void EnsureAvailable_OnThisMachine_ReportsOpenSsl3()
    {
        OpenSslLibrary.EnsureAvailable();

        Assert.StartsWith("OpenSSL 3.", OpenSslLibrary.Version, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(SslProtocols.Tls13, 0x0304, 0x1301)]
    [InlineData(SslProtocols.Tls12, 0x0303, 0xC02F)]
    public async Task Handshake_SslStreamClient_NegotiatesAndEchoes(SslProtocols protocol, int version, int suite)
    {
        using var front = SslContext.CreateFront(new FrontContextOptions());
        using var server = SslContext.CreateServer(Options(_rsa, "ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"), "rsa");
        await using var listener = await EchoServer.StartAsync(front, _ => server);

        var (reply, _) = await ClientAsync(listener.Port, "rsa.example", protocol, "hello over openssl");

        Assert.Equal("hello over openssl", reply);
        var connection = await listener.Accepted;
        Assert.Equal(version, connection.Version);
        Assert.Equal(suite, connection.CipherSuite);
        Assert.Equal("rsa.example", connection.ServerName);
        Assert.Same(server, connection.SelectedContext);
        Assert.False(connection.Resumed);
    }

    [Fact]
    public async Task ServerNameCallback_TwoSslServers_EachNameGetsItsCertificate()
    {
        using var front = SslContext.CreateFront(new FrontContextOptions());
        using var rsa = SslContext.CreateServer(Options(_rsa), "rsa");
        using var ecdsa = SslContext.CreateServer(Options(_ecdsa), "ecdsa");
        await using var listener = await EchoServer.StartAsync(front, name => name == "ecdsa.example" ? ecdsa : rsa);

        var (_, certificate) = await ClientAsync(listener.Port, "ecdsa.example", SslProtocols.Tls13, "x");

        Assert.Equal(_ecdsa.Der, certificate);
        Assert.Same(ecdsa, (await listener.Accepted).SelectedContext);
    }

    [Fact]
    public async Task ServerNameCallback_NoSslServerForName_RefusedWithUnrecognizedName()
    {
        using var front = SslContext.CreateFront(new FrontContextOptions());
        await using var listener = await EchoServer.StartAsync(front, _ => null);

        var result = await OpenSslClient.SClientAsync(listener.Port, "-servername nobody.example -tls1_3", "");

        Assert.Contains("unrecognized name", result.AllOutput, StringComparison.OrdinalIgnoreCase);
        var connection = await listener.Accepted;
        Assert.True(connection.ServerNameRejected);
        Assert.Equal("nobody.example", connection.ServerName);
    }

    [Fact]
    public async Task CipherList_OfTheChosenSslServer_IsWhatTls12Negotiates()
    {
        using var front = SslContext.CreateFront(new FrontContextOptions());
        using var server = SslContext.CreateServer(Options(_rsa, "ECDHE-RSA-AES256-GCM-SHA384", null));
        await using var listener = await EchoServer.StartAsync(front, _ => server);

        var result = await OpenSslClient.SClientAsync(listener.Port, "-servername rsa.example -tls1_2", "");

        Assert.Contains("ECDHE-RSA-AES256-GCM-SHA384", result.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(0xC030, (await listener.Accepted).CipherSuite);
    }

    [Fact]
    public async Task Suites_ConnectionsStartOnTheLastChosenSslServersSuites_EachSslServerStillNegotiatesItsOwn()
    {
        using var front = SslContext.CreateFront(new FrontContextOptions());
        using var aes = SslContext.CreateServer(Options(_rsa, "ECDHE-RSA-AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384"), "aes");
        using var chacha = SslContext.CreateServer(Options(_rsa, "ECDHE-RSA-CHACHA20-POLY1305", "TLS_CHACHA20_POLY1305_SHA256"), "chacha");
        using var defaults = SslContext.CreateServer(Options(_ecdsa), "defaults");
        Func<string?, SslContext?> select = name => name switch
        {
            "aes.example" => aes,
            "chacha.example" => chacha,
            _ => defaults,
        };

        // Before any choice, connections start on the front itself (OpenSSL's defaults).
        Assert.Same(front, front.StartContext);
        Assert.Equal(0xC030, await SuiteAsync(front, select, "-servername aes.example -tls1_2"));
        await StartsOnSuitesOfAsync(front, aes);

        // Started on the aes variant: chacha's suites are set on the connection, and the next ones start on them.
        Assert.Equal(0xCCA8, await SuiteAsync(front, select, "-servername chacha.example -tls1_2"));
        Assert.Equal(0x1303, await SuiteAsync(front, select, "-servername chacha.example -tls1_3"));
        await StartsOnSuitesOfAsync(front, chacha);

        // Started on the chacha variant: a server with no suites of its own gets OpenSSL's defaults back.
        Assert.Equal(0x1301, await SuiteAsync(front, select, "-servername defaults.example -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256"));
        Assert.Equal(0xC02B, await SuiteAsync(front, select, "-servername defaults.example -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256"));

        // And a server does not inherit the suites of the variant the connection started on.
        Assert.Equal(0xCCA8, await SuiteAsync(front, select, "-servername chacha.example -tls1_2"));
        await StartsOnSuitesOfAsync(front, chacha);
        Assert.Equal(-1, await SuiteAsync(front, select, "-servername aes.example -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256"));
    }

    [Theory]
    [InlineData("ECDHE-ECDSA-AES128-GCM-SHA256", "ecdsa")]
    [InlineData("ECDHE-RSA-AES128-GCM-SHA256", "rsa")]
    public async Task TwoCertificates_OneSslServer_ClientSuitePicksTheKeyType(string clientCipher, string expected)
    {
        using var front = SslContext.CreateFront(new FrontContextOptions());
        using var server = SslContext.CreateServer(new ServerContextOptions
        {
            Certificates = [OpenSslTestCredentials.ServerCertificate(_rsa), OpenSslTestCredentials.ServerCertificate(_ecdsa)],
            CipherList = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
            SessionIdContext = "dual",
        });
        await using var listener = await EchoServer.StartAsync(front, _ => server);

        var result = await OpenSslClient.SClientAsync(listener.Port, $"-tls1_2 -cipher {clientCipher}", "");

        Assert.Contains(expected == "ecdsa" ? "CN = ecdsa.example" : "CN = rsa.example", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains(clientCipher, result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateServer_KeyOfAnotherCertificate_FailsWithOpenSslReason()
    {
        var wrong = new ServerCertificate([_rsa.Der], ((ECDsa)_ecdsa.Key).ExportPkcs8PrivateKey());

        var e = Assert.Throws<OpenSslException>(() => SslContext.CreateServer(new ServerContextOptions
        {
            Certificates = [wrong],
            SessionIdContext = "x",
        }));

        Assert.Contains("private key", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateServer_CipherListOpenSslDoesNotKnow_FailsNamingIt()
    {
        var e = Assert.Throws<OpenSslException>(() => SslContext.CreateServer(Options(_rsa, "NO-SUCH-CIPHER", null)));

        Assert.Contains("NO-SUCH-CIPHER", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_ClientOffersOnlyCbcSuite_Refused()
    {
        using var front = SslContext.CreateFront(new FrontContextOptions());
        using var server = SslContext.CreateServer(Options(_rsa, "ECDHE-RSA-AES128-GCM-SHA256", null));
        await using var listener = await EchoServer.StartAsync(front, _ => server);

        var result = await OpenSslClient.SClientAsync(listener.Port, "-tls1_2 -cipher ECDHE-RSA-AES128-SHA", "");

        Assert.Contains("handshake failure", result.AllOutput, StringComparison.OrdinalIgnoreCase);
        var connection = await listener.Accepted;
        Assert.NotNull(connection.Error);
    }

    [Fact]
    public async Task Versions_OfTheChosenSslServer_Tls13OnlyRefusesATls12Client()
    {
        using var front = SslContext.CreateFront(new FrontContextOptions());
        using var server = SslContext.CreateServer(Options(_rsa) with { MinVersion = 0x0304, MaxVersion = 0x0304 });
        await using var listener = await EchoServer.StartAsync(front, _ => server);

        var result = await OpenSslClient.SClientAsync(listener.Port, "-servername rsa.example -tls1_2", "");

        Assert.Contains("protocol version", result.AllOutput, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull((await listener.Accepted).Error);
    }

    [Theory]
    [InlineData(new byte[] { 0, 14, 0, 0, 11, (byte)'W', (byte)'w', (byte)'w', (byte)'.', (byte)'A', (byte)'.', (byte)'c', (byte)'o', (byte)'m', (byte)'.', (byte)'.' }, "www.a.com")]
    [InlineData(new byte[] { 0, 5, 0, 0, 2, (byte)'a' }, null)]
    [InlineData(new byte[] { 0, 4, 0, 0, 1, (byte)' ' }, null)]
    [InlineData(new byte[] { 0, 3, 0, 0, 0 }, null)]
    [InlineData(new byte[] { 0 }, null)]
    public void HostNameOf_ServerNameExtension_NormalisedOrNullWhenMalformed(byte[] extension, string? expected)
    {
        Assert.Equal(expected, SslConnection.HostNameOf(extension));
    }

    [Fact]
    public void SessionIdContextBytes_LongText_HashedToThirtyTwoBytes_ShortTextKept()
    {
        Span<byte> buffer = stackalloc byte[32];

        Assert.Equal(5, SslContext.SessionIdContextBytes("short", buffer));
        Assert.Equal("short", Encoding.UTF8.GetString(buffer[..5]));
        Assert.Equal(32, SslContext.SessionIdContextBytes(new string('k', 100), buffer));
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(new string('k', 100))), buffer.ToArray());
    }

    /// <summary>The suite one openssl s_client handshake negotiated with <paramref name="front"/>; -1 when it failed.</summary>
    private static async Task<int> SuiteAsync(SslContext front, Func<string?, SslContext?> select, string clientArguments)
    {
        await using var listener = await EchoServer.StartAsync(front, select);
        var result = await OpenSslClient.SClientAsync(listener.Port, clientArguments, "");
        var connection = await listener.Accepted;
        return result.StandardOutput.Contains("Cipher is (NONE)", StringComparison.Ordinal) ? -1 : connection.CipherSuite;
    }

    /// <summary>Waits (bounded) until new connections of <paramref name="front"/> start with <paramref name="server"/>'s suites.</summary>
    private static async Task StartsOnSuitesOfAsync(SslContext front, SslContext server)
    {
        for (int i = 0; i < 200 && !front.StartContext.HasSuitesOf(server); i++)
        {
            await Task.Delay(25);
        }

        Assert.True(front.StartContext.HasSuitesOf(server));
        Assert.NotSame(front, front.StartContext);
    }

    private static ServerContextOptions Options(TestCertificate certificate, string? cipherList = null, string? suites = null) => new()
    {
        Certificates = [OpenSslTestCredentials.ServerCertificate(certificate)],
        CipherList = cipherList,
        CipherSuites = suites,
        SessionIdContext = "test/" + certificate.ToX509().Subject,
    };

    private static async Task<(string Reply, byte[]? Certificate)> ClientAsync(int port, string host, SslProtocols protocol, string message)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        byte[]? seen = null;
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), false, (_, cert, _, _) =>
        {
            seen = cert?.GetRawCertData();
            return true;
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = host, EnabledSslProtocols = protocol }, timeout.Token);
        await tls.WriteAsync(Encoding.UTF8.GetBytes(message), timeout.Token);
        var buffer = new byte[1024];
        int n = await tls.ReadAsync(buffer, timeout.Token);
        return (Encoding.UTF8.GetString(buffer, 0, n), seen);
    }

    /// <summary>Accepts one connection and echoes what it reads, over an <see cref="SslConnection"/>.</summary>
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly TaskCompletionSource<SslConnection> _accepted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(30));
        private Task _run = Task.CompletedTask;

        private EchoServer(Socket listener) => _listener = listener;

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        /// <summary>The server side, once its handshake ended (completed or failed).</summary>
        public Task<SslConnection> Accepted => _accepted.Task;

        public static Task<EchoServer> StartAsync(SslContext front, Func<string?, SslContext?> select)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            socket.Listen();
            var server = new EchoServer(socket);
            server._run = server.RunAsync(front, select);
            return Task.FromResult(server);
        }

        private async Task RunAsync(SslContext front, Func<string?, SslContext?> select)
        {
            using var socket = await _listener.AcceptAsync(_stop.Token);
            var connection = SslConnection.CreateServer(front, select);
            var buffer = new byte[16 * 1024];
            try
            {
                // Handshake, then echo: each step runs until OpenSSL wants more ciphertext, which the socket feeds.
                bool handshaking = true;
                int read = 0;
                var status = connection.Handshake();
                while (true)
                {
                    if (!handshaking && status == SslStatus.Ok)
                    {
                        connection.Write(buffer.AsSpan(0, read));
                    }

                    await SendOutputAsync(socket, connection);
                    if (status == SslStatus.WantInput)
                    {
                        if (!await FeedAsync(socket, connection, buffer))
                        {
                            break;
                        }
                    }
                    else if (status != SslStatus.Ok)
                    {
                        break;
                    }
                    else if (handshaking)
                    {
                        handshaking = false;
                        _accepted.TrySetResult(connection);
                    }

                    status = handshaking ? connection.Handshake() : connection.Read(buffer, out read);
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                // The client went away.
            }
            finally
            {
                _accepted.TrySetResult(connection);
            }
        }

        private async Task<bool> FeedAsync(Socket socket, SslConnection connection, byte[] buffer)
        {
            int n = await socket.ReceiveAsync(buffer, _stop.Token);
            connection.Feed(buffer.AsSpan(0, n));
            return n > 0;
        }

        private static async Task SendOutputAsync(Socket socket, SslConnection connection)
        {
            var ciphertext = new byte[16 * 1024];
            int n;
            while ((n = connection.TakeOutput(ciphertext)) > 0)
            {
                await socket.SendAsync(ciphertext.AsMemory(0, n));
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Dispose();
            try
            {
                await _run;
            }
            catch (OperationCanceledException)
            {
            }

            if (_accepted.Task.IsCompletedSuccessfully)
            {
                _accepted.Task.Result.Dispose();
            }

            _stop.Dispose();
        }
    }
}
