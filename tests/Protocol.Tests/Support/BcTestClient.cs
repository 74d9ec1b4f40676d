using System.Net;
using System.Net.Sockets;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace SslCluster.Protocol.Tests.Support;

/// <summary>
/// A BouncyCastle TLS client (blocking mode) for tests that must tell a close_notify from a bare TCP close: its
/// stream returns 0 after close_notify and throws <see cref="TlsNoCloseNotifyException"/> on EOF without one.
/// </summary>
public sealed class BcTestClient : IDisposable
{
    private readonly Socket _socket;
    private readonly TlsClientProtocol _protocol;

    private BcTestClient(Socket socket, TlsClientProtocol protocol)
    {
        _socket = socket;
        _protocol = protocol;
    }

    public Stream Stream => _protocol.Stream;

    public TlsClientProtocol Protocol => _protocol;

    public static async Task<BcTestClient> ConnectAsync(int port, ProtocolVersion version, int[]? suites = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        return await ConnectAsync(socket, version, suites);
    }

    /// <summary>Handshakes over an already connected socket (owned by the client from then on).</summary>
    public static async Task<BcTestClient> ConnectAsync(Socket socket, ProtocolVersion version, int[]? suites = null)
    {
        var protocol = new TlsClientProtocol(new NetworkStream(socket, ownsSocket: false));
        await Task.Run(() => protocol.Connect(new Client(version, suites)));
        return new BcTestClient(socket, protocol);
    }

    /// <summary>Reads until the stream ends (close_notify) and returns everything read.</summary>
    public byte[] ReadToEnd()
    {
        var output = new MemoryStream();
        Stream.CopyTo(output);
        return output.ToArray();
    }

    public void Dispose()
    {
        _socket.Dispose();
    }

    private sealed class Client(ProtocolVersion version, int[]? suites) : DefaultTlsClient(new BcTlsCrypto())
    {
        protected override ProtocolVersion[] GetSupportedVersions() => [version];

        protected override int[] GetSupportedCipherSuites() => suites ?? base.GetSupportedCipherSuites();

        public override TlsAuthentication GetAuthentication() => new AcceptAnyServer();
    }

    private sealed class AcceptAnyServer : TlsAuthentication
    {
        public void NotifyServerCertificate(TlsServerCertificate serverCertificate)
        {
            // Tests talk to their own generated certificate on 127.0.0.1; trust is not what they check.
        }

        public TlsCredentials? GetClientCredentials(CertificateRequest certificateRequest) => null;
    }
}
