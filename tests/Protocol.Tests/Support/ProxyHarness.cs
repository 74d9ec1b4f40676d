using System.Net;
using System.Net.Sockets;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;

namespace SslCluster.Protocol.Tests.Support;

/// <summary>
/// A TLS listener on 127.0.0.1 in front of a test backend, with a generated certificate and a recording observer.
/// </summary>
public sealed class ProxyHarness : IAsyncDisposable
{
    private ProxyHarness(TestCertificate certificate, ServerCredential credential, TlsEngine engine,
        TlsListener listener, LoopbackServer backend, RecordingObserver observer, TlsFrontEndBinding binding)
    {
        Certificate = certificate;
        Credential = credential;
        Engine = engine;
        Listener = listener;
        Backend = backend;
        Observer = observer;
        Binding = binding;
    }

    public TestCertificate Certificate { get; }

    public ServerCredential Credential { get; }

    public TlsEngine Engine { get; }

    public TlsListener Listener { get; }

    public LoopbackServer Backend { get; }

    public RecordingObserver Observer { get; }

    public TlsFrontEndBinding Binding { get; }

    public int Port => Listener.LocalEndPoint.Port;

    public static ProxyHarness Start(LoopbackServer backend, bool ecdsa = false,
        ProxyConnectionOptions? options = null,
        ITlsSessionStore? sessionStore = null, IEnumerable<int>? suites = null, string bindingKey = "ctx/list/srv",
        TlsBindingSelector? selector = null, TlsEngineOptions? engineOptions = null, ClientAuthPolicy? clientAuth = null,
        SessionTicketKeys? tickets = null, IReadOnlyList<string>? alpn = null)
    {
        var certificate = ecdsa ? TestCertificates.CreateEcdsa() : TestCertificates.CreateRsa();
        var credential = certificate.CreateCredential();
        var engine = new TlsEngine(engineOptions ?? new TlsEngineOptions(),
            sessionStore, tickets);
        var binding = new TlsFrontEndBinding(credential, bindingKey, suites, tag: "tag-" + bindingKey) { ClientAuth = clientAuth, ApplicationProtocols = alpn ?? ["http/1.1"] };
        var observer = new RecordingObserver();
        var listener = new TlsListener(new IPEndPoint(IPAddress.Loopback, 0), engine, selector ?? (_ => binding),
            (_, ct) => backend.ConnectAsync(ct), options, observer);
        listener.Start();
        return new ProxyHarness(certificate, credential, engine, listener, backend, observer, binding);
    }

    /// <summary>A raw TCP connection to the listener.</summary>
    public async Task<Socket> ConnectRawAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(Listener.LocalEndPoint);
        return socket;
    }

    public async ValueTask DisposeAsync()
    {
        await Listener.DisposeAsync();
        await Backend.DisposeAsync();
        Credential.Dispose();
        Certificate.Dispose();
    }
}
