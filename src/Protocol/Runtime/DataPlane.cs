using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Http;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Runtime;

/// <summary>
/// The data plane of a node: one TLS engine (crypto, session store), server credentials built once per key and
/// certificate (not per revision, not per handshake), and listener runtimes built per revision from the plan.
/// </summary>
public sealed partial class DataPlane : IDataPlane, IDisposable
{
    private static readonly Dictionary<string, int> SuiteIds = typeof(Org.BouncyCastle.Tls.CipherSuite)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(int))
        .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!, StringComparer.Ordinal);

    private readonly KeyProtector _protector;
    private readonly TlsEngine _engine;

    /// <summary>
    /// For modules whose ssl-servers all say <c>version tls1.3</c>. A connection's version range is set when it is
    /// created, before its ClientHello names an ssl-server, so the floor is a property of the engine a connection
    /// uses, not of the binding it selects.
    /// </summary>
    private readonly TlsEngine _engineTls13;

    /// <summary>For modules whose cipher lines name no TLS 1.3 suite: the operator asked for TLS 1.2 suites only.</summary>
    private readonly TlsEngine _engineTls12;
    private readonly ProxyConnectionOptions _baseOptions;
    /// <summary>Credentials by key and certificate fingerprint, each with the runtimes that lease it (disposed at none).</summary>
    private readonly LeaseCache<(string Key, string Cert), ServerCredential> _credentials = new();
    private readonly ClientAuthPolicies _clientAuth;
    private readonly Action<string> _log;

    /// <summary>OCSP staples by certificate and responder, each refreshed in the background while a runtime leases it.</summary>
    private readonly LeaseCache<string, OcspStaple> _staples = new();
    private readonly HttpClient _ocspHttp = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false });

    /// <summary>One table per sticky listener, kept across revisions so a reconfiguration does not unstick clients.</summary>
    private readonly ConcurrentDictionary<string, StickyTable> _sticky = new(StringComparer.Ordinal);

    /// <summary>How long a sticky entry lives without being used.</summary>
    public static readonly TimeSpan StickyIdle = TimeSpan.FromMinutes(30);

    /// <param name="log">Where CRL events go (fetched, failed, kept the last good copy); standard error when null.</param>
    public DataPlane(MasterKey masterKey, AddressMap addresses, TimeSpan backendConnectTimeout, ITlsSessionStore? sessions = null, Action<string>? log = null, SessionTicketKeys? tickets = null)
    {
        _log = log ?? (line => Console.Error.WriteLine("sslnode: " + line));
        _clientAuth = new ClientAuthPolicies(TimeProvider.System, _log);
        _protector = new KeyProtector(masterKey);
        Addresses = addresses;
        var options = new TlsEngineOptions();
        sessions ??= new LocalTlsSessionStore(TimeProvider.System);
        _engine = new TlsEngine(options, sessions, tickets);
        _engineTls13 = new TlsEngine(options with { MinVersion = TlsVersion.Tls13 }, sessions, tickets);
        _engineTls12 = new TlsEngine(options with { MaxVersion = TlsVersion.Tls12 }, sessions, tickets);
        _baseOptions = new ProxyConnectionOptions { BackendConnectTimeout = backendConnectTimeout };
    }

    public AddressMap Addresses { get; }

    /// <summary>Every module's flow counters on this node (front-end VIP rows and backend-server rows).</summary>
    public FlowRegistry Flows { get; } = new();

    /// <summary>Open and total connections per service on this node.</summary>
    public ServiceGauges Gauges { get; } = new();

    /// <summary>
    /// A flow that nothing else frames as HTTP (a TLS client that named no protocol by ALPN on an ssl-server that reads no
    /// HTTP, a clear-text relay without header insertion) gets a passive transform that frames it when its first bytes
    /// are HTTP/2's preface or an HTTP/1.x request line (<see cref="FirstBytesFlow"/>), for a clean drain; false: such
    /// flows are relayed as they come (<c>sslcluster.proxy.frame-http-by-first-bytes</c>).
    /// </summary>
    public bool FramesHttpByFirstBytes { get; init; } = true;

    /// <summary>
    /// The transform of a flow nothing else frames: judged by its client's first bytes (HTTP/2 with prior knowledge, or an
    /// HTTP/1.x request line), or none (<see cref="FramesHttpByFirstBytes"/>).
    /// </summary>
    private FirstBytesFlow? FramedByFirstBytes() => FramesHttpByFirstBytes ? new FirstBytesFlow() : null;

    /// <summary>Admission of new connections: the node's connection limit, modules' max-conns, handshake rates.</summary>
    public NodeLimits Limits { get; init; } = new(new LimitSettings(), TimeProvider.System);

    /// <summary>The node's start-up warm-up, run beside the cluster's start; accepting waits for it (<see cref="IDataPlane.Warm"/>).</summary>
    public Task Warm { get; init; } = Task.CompletedTask;

    /// <summary>Servers set aside after failed connects (passive health), kept across revisions.</summary>
    public PassiveHealth Passive { get; init; } = new(TimeProvider.System);

    /// <summary>Where connection failures are logged (one line each, rate-limited); nowhere when not set.</summary>
    public ConnectionLog Log { get; init; } = new(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System);

    /// <summary>Keepalive states the balancers consult; every service alive until the node sets its health table.</summary>
    public IServiceHealth Health { get; init; } = AlwaysAlive.Instance;

    /// <summary>The validator's key/certificate check over encoded store files: null when the key is the certificate's.</summary>
    public static string? CheckKeyAndCertificate(byte[] keyFile, byte[] certFile) =>
        TlsKeyMaterial.MismatchReason(CertStoreFile.DecodeShared(keyFile), CertStoreFile.DecodeShared(certFile));

    public IListenerRuntime Build(RuntimePlan plan, ListenerPlan listener, IReadOnlyDictionary<string, byte[]> files)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(files);
        Volatile.Write(ref _latestFiles, files);
        var leases = new RuntimeLeases();
        if (listener.Kind == ListenerKind.TcpRelay) return new TcpRuntime(this, plan, listener, files, leases);
        try
        {
            var sticky = listener.Sticky == Config.Stickiness.None || listener.Modules.Count < 2
                ? null
                : _sticky.GetOrAdd(listener.Key, _ => new StickyTable(TimeProvider.System, StickyIdle));
            var selectors = new Dictionary<string, TlsBindingSelector>(StringComparer.Ordinal);
            var chains = new List<(CertStoreFile Leaf, string ChainId)>();
            foreach (var module in listener.Modules)
            {
                var bindings = module.SslServers.Select(s => Binding(s, files, leases, chains)).ToList();
                selectors[module.Name] = Selector(bindings);
            }
            return new TlsRuntime(this, plan, listener, selectors, files, leases, chains) { Sticky = sticky };
        }
        catch
        {
            // A runtime that cannot be built holds nothing.
            leases.ReleaseAll();
            throw;
        }
    }

    /// <summary>Credentials held now (for tests and figures): a certificate no runtime uses is not held.</summary>
    public int CredentialsHeld => _credentials.Count;

    /// <summary>CRL monitors running now.</summary>
    public int CrlMonitorsRunning => _clientAuth.Running;

    private (TlsFrontEndBinding Binding, IReadOnlyList<string> Names) Binding(SslServerPlan server, IReadOnlyDictionary<string, byte[]> files, RuntimeLeases leases,
        List<(CertStoreFile Leaf, string ChainId)> chains)
    {
        byte[] File(string name, string what) => files.TryGetValue(name, out var bytes)
            ? bytes
            : throw new InvalidOperationException($"ssl-server {server.Server.Number} of {server.ProxyList}: {what} file '{name}' is not in the certificate store");
        var names = new List<string>();

        // One key and certificate of the ssl-server: its chain completed from the store, its credential, its names.
        (ServerCredential Credential, CertStoreFile Certificate, IReadOnlyList<CertStoreFile> Intermediates) Load(string keyName, string certName)
        {
            var certificate = CertStoreFile.DecodeShared(File(certName, "certificate"));
            var intermediates = IssuerIndex.Of(files).IntermediatesOf(certificate, DateTimeOffset.UtcNow);
            chains.Add((certificate, ChainId(certificate, intermediates)));
            var credential = Credential(CertStoreFile.DecodeShared(File(keyName, "key")), certificate, leases, intermediates);
            names.AddRange(certificate.SubjectAltNames.Concat(certificate.Subject is { } s ? [SubjectName.CommonNameOf(s) ?? string.Empty] : [])
                .Where(n => n.Length > 0 && !names.Contains(n)).Distinct().ToList());
            return (credential, certificate, intermediates);
        }

        var (credential, certFile, intermediates) = Load(server.KeyFile, server.CertFile);
        var rsa = server.Rsa is { } pair ? Load(pair.KeyFile, pair.CertFile) : default;
        var suites = SuiteIdsOf(server.Suites).ToList();
        // Each certificate's own status, from the responder configured or the one it names.
        var staple = StapleFor(certFile, intermediates, files, leases, server.Server.OcspUrl);
        var rsaStaple = rsa.Credential is null ? null : StapleFor(rsa.Certificate, rsa.Intermediates, files, leases, server.Server.OcspUrl);
        var binding = new TlsFrontEndBinding(credential, server.BindingKey, suites, server, rsa.Credential)
        {
            StatusResponse = staple is null ? null : () => staple.Current,
            SecondStatusResponse = rsaStaple is null ? null : () => rsaStaple.Current,
            SessionTimeout = TimeSpan.FromSeconds(server.Server.SessionCacheSeconds),
            ClientAuth = _clientAuth.For(server, files, leases),
            ApplicationProtocols = server.Server.Alpn,
        };
        return (binding, names);
    }

    /// <summary>The code points of IANA suite names (unknown names dropped).</summary>
    private static IEnumerable<int> SuiteIdsOf(IEnumerable<string> ianaNames) =>
        ianaNames.Select(name => SuiteIds.TryGetValue(name, out var id) ? id : -1).Where(id => id >= 0);

    /// <summary>
    /// A key and certificate prepared once and shared by every runtime that uses them (server or client side), leased
    /// by <paramref name="leases"/>: disposed once no runtime holds it. Without leases (a keepalive probe) a fresh one
    /// that the caller disposes: a shared one could be disposed under it by a runtime's release.
    /// </summary>
    private ServerCredential Credential(CertStoreFile keyFile, CertStoreFile certFile, RuntimeLeases? leases,
        IReadOnlyList<CertStoreFile>? intermediates = null)
    {
        // The chain sent is part of what a credential is: the same pair with other intermediates is another one.
        var id = (keyFile.Sha256Fingerprint, ChainId(certFile, intermediates ?? []));
        if (leases is not null && _credentials.TryLease(id, leases) is { } held) return held;
        // Loaded outside any lock; a concurrent load of the same pair keeps the first and drops the second. The key stays
        // sealed until OpenSSL loads it (the ssl-server's context, built on its first handshake).
        var (chain, openKey) = TlsKeyMaterial.LoadSealed(_protector, keyFile, certFile, intermediates);
        var fresh = ServerCredential.CreateSealed(chain, keyFile.PublicKeyInfo.Span, openKey);
        if (leases is null) return fresh;
        var kept = _credentials.LeaseOrAdd(id, fresh, leases);
        if (!ReferenceEquals(kept, fresh)) fresh.Dispose();
        return kept;
    }

    /// <summary>
    /// The OCSP staple of an ssl-server's certificate when a responder is configured (<c>ocsp-url</c>) or named by the
    /// certificate (Authority Information Access) and its issuer is in the store; started on first use and shared by
    /// every runtime that leases it.
    /// </summary>
    private OcspStaple? StapleFor(CertStoreFile certificate, IReadOnlyList<CertStoreFile> intermediates, IReadOnlyDictionary<string, byte[]> files,
        RuntimeLeases leases, string? configuredResponder)
    {
        var der = certificate.CertificateDer.ToArray();
        if ((configuredResponder is not null ? new Uri(configuredResponder) : OcspStaple.ResponderOf(der)) is not { } responder ||
            (intermediates.Count > 0 ? intermediates[0] : IssuerIndex.Of(files).IssuerOf(certificate, DateTimeOffset.UtcNow)) is not { } issuer)
        {
            return null;
        }

        var id = $"{certificate.Sha256Fingerprint}/{issuer.Sha256Fingerprint}/{responder}";
        if (_staples.TryLease(id, leases) is { } held) return held;
        var fresh = new OcspStaple(der, issuer.CertificateDer.ToArray(), responder, _ocspHttp, TimeProvider.System, _log);
        var kept = _staples.LeaseOrAdd(id, fresh, leases);
        if (ReferenceEquals(kept, fresh)) fresh.Start();
        else fresh.Dispose();
        return kept;
    }

    /// <summary>A chain's identity: the certificate's fingerprint, then its intermediates', nearest first.</summary>
    private static string ChainId(CertStoreFile certificate, IReadOnlyList<CertStoreFile> intermediates) =>
        intermediates.Count == 0 ? certificate.Sha256Fingerprint : certificate.Sha256Fingerprint + "+" + string.Join("+", intermediates.Select(i => i.Sha256Fingerprint));

    private string? DialledAddress(Config.BackendServer server) =>
        (server.ServerIp ?? server.IpAddress) is { } ip ? Addresses.Map(ip).ToString() : null;

    /// <summary>The TLS client settings of a backend-server, from its configuration and the store files it names.</summary>
    private BackendTlsProfile Profile(BackendServerPlan plan, IReadOnlyDictionary<string, byte[]> files, RuntimeLeases leases)
    {
        var who = $"backend-server {plan.Server.Number} of {plan.ProxyList}";
        byte[] File(string name, string what) => files.TryGetValue(name, out var bytes)
            ? bytes
            : throw new InvalidOperationException($"{who}: {what} file '{name}' is not in the certificate store");
        ServerCredential? client = plan.KeyFile is { } k && plan.CertFile is { } c
            ? Credential(CertStoreFile.DecodeShared(File(k, "rsakey")), CertStoreFile.DecodeShared(File(c, "rsacert")), leases)
            : null;
        var cas = plan.CaFiles.Count > 0 ? plan.CaFiles.Select(ca => ClientAuthPolicies.Certificate(files, ca, who, "cacert")).ToArray() : null;
        var suites = SuiteIdsOf(plan.Suites);
        return new BackendTlsProfile(plan.CacheKey, suites,
            plan.Server.MinimumVersion == Config.TlsVersionFloor.Tls13 ? TlsVersion.Tls13 : TlsVersion.Tls12,
            client, cas, TimeSpan.FromSeconds(plan.Server.SessionCacheSeconds), plan.Server.ServerName)
        {
            // The name the certificate must carry: the configured DNS name, else the address really dialled (a
            // client verifies the server it connects to; --address-map moves it in tests and local runs).
            ExpectedName = plan.Server.ServerName ?? DialledAddress(plan.Server),
            SignatureOnly = plan.Server.SignatureOnly,
        };
    }

    /// <summary>
    /// Several ssl-servers may share a VIP and port: the client's SNI picks the one whose certificate names the host
    /// (exact, then wildcard); without SNI, or without a match, the lowest-numbered ssl-server answers.
    /// </summary>
    private static TlsBindingSelector Selector(List<(TlsFrontEndBinding Binding, IReadOnlyList<string> Names)> bindings)
    {
        if (bindings.Count == 0) return _ => null;
        var fallback = bindings[0].Binding;
        if (bindings.Count == 1) return _ => fallback;
        // One lookup per handshake whatever the number of ssl-servers (the reference allows 255 on a VIP); the first
        // (lowest-numbered) ssl-server naming a host wins, as a linear search in number order would.
        var byName = new Dictionary<string, TlsFrontEndBinding>(StringComparer.OrdinalIgnoreCase);
        foreach (var (b, names) in bindings)
            foreach (var n in names)
                byName.TryAdd(n, b);
        return sni =>
        {
            if (string.IsNullOrEmpty(sni)) return fallback;
            if (byName.TryGetValue(sni, out var exact)) return exact;
            var dot = sni.IndexOf('.', StringComparison.Ordinal);
            return dot > 0 && byName.TryGetValue(string.Concat("*", sni.AsSpan(dot)), out var wildcard) ? wildcard : fallback;
        };
    }

    /// <summary>
    /// The version range a module's ssl-servers allow. The range is set on a connection before SNI selects an
    /// ssl-server, so it is decided per module: TLS 1.3 only when every ssl-server says so, TLS 1.2 only when
    /// no cipher line names a TLS 1.3 suite, both otherwise.
    /// </summary>
    private TlsEngine EngineFor(ModulePlan module)
    {
        if (module.SslServers.Count == 0) return _engine;
        if (module.SslServers.All(s => s.Server.MinimumVersion == Config.TlsVersionFloor.Tls13)) return _engineTls13;
        return module.SslServers.Any(s => s.Suites.Any(IsTls13Suite)) ? _engine : _engineTls12;
    }

    private static bool IsTls13Suite(string iana) => !iana.Contains("_WITH_", StringComparison.Ordinal);

    public void Dispose()
    {
        _staples.Dispose();
        _ocspHttp.Dispose();
        _credentials.Dispose();
        _clientAuth.Dispose();
        _protector.Dispose();
    }

    /// <summary>
    /// Connects to one of the balancer's targets, trying another when a connect fails (up to
    /// <paramref name="attempts"/>). A target behind a backend-server comes back with its TLS client policy (re-encryption,
    /// SSL initiation) and the counters of its row under <paramref name="module"/>.
    /// </summary>
    /// <param name="applicationProtocol">
    /// The protocol the client agreed by ALPN (a re-encrypted flow): offered to a TLS back end, and required of it
    /// unless it is HTTP/1.x; null for clear-text clients.
    /// </param>
    /// <param name="first">The server to try first (chosen before, for http-reuse); the balancer's choice when null.</param>
    /// <param name="relayRow">The counters of the clear-text relay dialling (SSL initiation), or null.</param>
    /// <param name="preamble">Bytes the server gets first, before any of the client's (a PROXY protocol header), or null.</param>
    private async ValueTask<BackendLink> DialAsync(TargetBalancer balancer, int defaultPort, int attempts, string? module,
        Func<BackendServerPlan, BackendTlsProfile> profileFor, CancellationToken ct, string? applicationProtocol = null,
        ServerTarget? first = null, FlowCounters? relayRow = null, byte[]? preamble = null)
    {
        SocketException? last = null;
        var tried = new List<ServerTarget>(attempts);
        for (var i = 0; i < Math.Max(1, attempts); i++)
        {
            var target = i == 0 && first is not null ? first : balancer.Next(tried);
            if (target is null) break;
            tried.Add(target);
            var endpoint = new IPEndPoint(Addresses.Map(target.Address), target.Port ?? defaultPort);
            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(endpoint, ct);
                if (preamble is { Length: > 0 }) await socket.SendAsync(preamble, SocketFlags.None, ct);
                Passive.Succeeded(target.Name);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                Passive.Failed(target.Name);
                last = e;
                continue;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            if (target.Backend is not { } backend)
                return new BackendLink(socket, Flow: new BackendFlow(Gauges, target.Name, null)) { ReuseKey = ReuseKey(target, defaultPort, applicationProtocol) };
            var rowModule = backend.InitiationModule ?? module;
            var row = rowModule is null ? null : Flows.For(rowModule, backend.RowVirtual, backend.RowPort);
            // An SSLM client service's relay counts into its module's row: its TLS leg then adds only the handshake.
            var sharesRelay = row is not null && ReferenceEquals(row, relayRow);
            if (row is not null && sharesRelay) row.Initiation = true;
            else if (row is not null) row.ServerLeg = true;
            try
            {
                return new BackendLink(socket, _engine.CreateClient(profileFor(backend), applicationProtocol), new BackendFlow(Gauges, target.Name, row, sharesRelay),
                    TimeSpan.FromSeconds(backend.Server.HandshakeTimeoutSeconds)) { ReuseKey = ReuseKey(target, defaultPort, applicationProtocol) };
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last ?? new SocketException((int)SocketError.HostUnreachable);
    }

    /// <summary>Idle http-reuse connections are kept by the server they reach and the protocol agreed with the client.</summary>
    /// <remarks>
    /// The address and port dialled (a target without a port takes the destination's), the backend-server's TLS plan
    /// and the ALPN protocol: two ways to the same server with different TLS clients never share a connection.
    /// </remarks>
    private (IPEndPoint, string, string) ReuseKey(ServerTarget target, int defaultPort, string? applicationProtocol) =>
        (new IPEndPoint(Addresses.Map(target.Address), target.Port ?? defaultPort), target.Backend?.CacheKey ?? "", applicationProtocol ?? "");

    /// <summary>
    /// Feeds a service's connection gauge and, for TLS legs, its backend-server row; when the row is the relay's own
    /// (<paramref name="sharesRelay"/>: an SSLM client service), only the handshake's gauges and totals, since the relay
    /// counts the connection, its bytes and how it ended.
    /// </summary>
    private sealed class BackendFlow(ServiceGauges gauges, string service, FlowCounters? row, bool sharesRelay = false) : IBackendFlowObserver
    {
        private int _idle;

        public void Started()
        {
            gauges.Opened(service);
            if (sharesRelay) row!.TlsLegStarted();
            else row?.Accept();
        }

        public void HandshakeCompleted(BackendHandshakeInfo handshake) => row?.HandshakeCompleted(handshake.Resumed);

        public void Ended(bool handshakeDone)
        {
            if (Interlocked.Exchange(ref _idle, 0) == 0) gauges.Closed(service);
            if (sharesRelay) row!.TlsLegEnded(handshakeDone);
            else row?.Closed(handshakeDone, 0, 0);
        }

        /// <summary>An idle pooled connection is not load: least-connections and maxconns count the ones serving clients.</summary>
        public void Idle(bool idle)
        {
            if (Interlocked.Exchange(ref _idle, idle ? 1 : 0) == (idle ? 1 : 0)) return;
            if (idle) gauges.Closed(service);
            else gauges.Opened(service);
        }
    }

    /// <summary>Backend-server profiles of one runtime, built on first use from the revision's store files.</summary>
    private sealed class Profiles(DataPlane owner, IReadOnlyDictionary<string, byte[]> files, RuntimeLeases leases)
    {
        private readonly ConcurrentDictionary<string, Lazy<BackendTlsProfile>> _profiles = new(StringComparer.Ordinal);

        // Lazy: a profile leases a credential, so it is built once even when two connections ask at the same time.
        public BackendTlsProfile For(BackendServerPlan plan) =>
            _profiles.GetOrAdd(plan.CacheKey, _ => new Lazy<BackendTlsProfile>(() => owner.Profile(plan, files, leases))).Value;
    }

    /// <summary>
    /// Reference counting shared by both kinds of runtime: one reference for "in use by a dispatcher" (dropped by
    /// <see cref="Retire"/>) and one per connection. When the last goes, the runtime's leases on credentials and CRL
    /// monitors are released.
    /// </summary>
    private abstract class RuntimeBase(RuntimePlan plan, ListenerPlan listener, RuntimeLeases leases) : IListenerRuntime
    {
        private int _refs = 1;

        protected RuntimeLeases Leases { get; } = leases;

        public ListenerPlan Plan { get; } = listener;

        public StickyTable? Sticky { get; init; }

        public virtual bool ChainsCurrent(IReadOnlyDictionary<string, byte[]> store) => true;

        public long Revision => WholePlan.Revision;

        protected RuntimePlan WholePlan { get; } = plan;

        public abstract Task RunAsync(Socket client, ModulePlan? module, FlowCounters counters, ConnectionState state, CancellationToken cancellationToken);

        public bool TryAcquire()
        {
            while (true)
            {
                var n = Volatile.Read(ref _refs);
                if (n <= 0) return false;
                if (Interlocked.CompareExchange(ref _refs, n + 1, n) == n) return true;
            }
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _refs) != 0) return;
            Leases.ReleaseAll();
            Released();
        }

        /// <summary>The last connection of a retired runtime ended: what it kept for later goes.</summary>
        protected virtual void Released()
        {
        }

        public void Retire() => Release();
    }

    private sealed class TcpRuntime(DataPlane owner, RuntimePlan plan, ListenerPlan listener, IReadOnlyDictionary<string, byte[]> files, RuntimeLeases leases)
        : RuntimeBase(plan, listener, leases)
    {
        private readonly TargetBalancer _servers = new(listener.Servers, listener.Balance, owner.Health, owner.Gauges, owner.Passive);
        private readonly Profiles _profiles = new(owner, files, leases);

        public override async Task RunAsync(Socket client, ModulePlan? module, FlowCounters counters, ConnectionState state, CancellationToken cancellationToken)
        {
            counters.AcceptRelay();
            state.Enter(ConnectionPhase.Dialling);
            using var relay = new TcpRelay(client, ct => owner.DialAsync(_servers, Plan.Port, 3, null, _profiles.For, ct, relayRow: counters), owner._baseOptions,
                new RelayObserver(counters, state, owner.Log, Plan), TransformFor(client, counters));
            state.Attach(relay);
            await relay.RunAsync(cancellationToken);
        }

        /// <summary>
        /// The header insertion of an SSLM client service's clear text (custom lines, ClientIP and ClientPort, prefix,
        /// aliases; a clear-text client has no session or certificate to tell); otherwise a passive transform judged by the
        /// client's first bytes (<see cref="FirstBytesFlow"/>: HTTP/2 with prior knowledge, an HTTP/1.x request line, or
        /// passed as it is; a clear-text content rule may carry any protocol), so that a drain ends an idle HTTP client
        /// where it loses nothing rather than at its deadline (<see cref="FramesHttpByFirstBytes"/>; null when off).
        /// </summary>
        private IRelayTransform? TransformFor(Socket client, FlowCounters counters)
        {
            if (Plan.RelayHeaders is { } headers)
            {
                var info = new HandshakeInfo(TlsVersion.Tls12, 0, null, false, Plan.Key, null) { Client = TlsProxyConnection.SafeRemoteEndPoint(client) as IPEndPoint };
                if (HttpHeaderFields.For(headers, info)?.CountedBy(counters.Headers) is { } insertion) return new HttpExchange(null, false, insertion);
            }
            return owner.FramedByFirstBytes();
        }
    }

    private sealed class TlsRuntime(DataPlane owner, RuntimePlan plan, ListenerPlan listener, Dictionary<string, TlsBindingSelector> selectors,
        IReadOnlyDictionary<string, byte[]> files, RuntimeLeases leases, List<(CertStoreFile Leaf, string ChainId)> chains)
        : RuntimeBase(plan, listener, leases)
    {
        public override bool ChainsCurrent(IReadOnlyDictionary<string, byte[]> store)
        {
            var index = IssuerIndex.Of(store);
            var now = DateTimeOffset.UtcNow;
            return chains.TrueForAll(c => ChainId(c.Leaf, index.IntermediatesOf(c.Leaf, now)) == c.ChainId);
        }

        private readonly ConcurrentDictionary<(string, int), TargetBalancer> _destinations = new();
        private readonly Profiles _profiles = new(owner, files, leases);

        // Decided once per module for this revision, not per connection (it walks every ssl-server's suites).
        private readonly Dictionary<string, TlsEngine> _engines = listener.Modules.ToDictionary(m => m.Name, owner.EngineFor, StringComparer.Ordinal);

        private ConnectionLog Log => owner.Log;

        // Not async: the connection's own run is the task, so that an idle connection keeps no frame of this method.
        public override Task RunAsync(Socket client, ModulePlan? module, FlowCounters counters, ConnectionState state, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(module);
            var selector = selectors[module.Name];
            var timeout = module.SslServers.Count > 0 ? module.SslServers[0].Server.HandshakeTimeoutSeconds : Config.SslServer.DefaultHandshakeTimeoutSeconds;
            var options = _options.GetOrAdd(timeout, static (seconds, baseOptions) => baseOptions with { HandshakeTimeout = TimeSpan.FromSeconds(seconds) },
                owner._baseOptions);
            counters.Accept();
            var engine = _engines[module.Name];
            // Session-ID stickiness learns the session a module made, so the client's resumption comes back to it.
            var learn = Plan.Sticky == Config.Stickiness.SslSessionId ? Sticky : null;
            var flow = new TlsFlow(this, module, counters, state, learn);
            // Nothing to dispose once the run has ended: its sockets are closed, and its cancellation source has no timer.
#pragma warning disable CA2000
            var connection = new TlsProxyConnection(client, engine, selector, flow, options, flow);
#pragma warning restore CA2000
            state.Attach(connection);
            return connection.RunAsync(cancellationToken);
        }

        /// <summary>The connection options by handshake timeout (seconds): one object for all the connections of a module.</summary>
        private readonly ConcurrentDictionary<int, ProxyConnectionOptions> _options = new();

        private readonly ConcurrentDictionary<string, UrlRewriter> _rewriters = new(StringComparer.Ordinal);
        // Lazy: two first connections of an ssl-server racing in GetOrAdd must not build two pools (a pool's sweep timer
        // would keep the one thrown away alive).
        private readonly ConcurrentDictionary<string, Lazy<BackendReuse>> _reuses = new(StringComparer.Ordinal);

        /// <summary>
        /// The HTTP transform of the flow when its ssl-server reads HTTP (urlrewrite rules, http-reuse or header
        /// insertion for an HTTP/1.x client), when the client agreed HTTP/1.x by ALPN, or when it named no protocol (then
        /// judged by its first bytes); an <see cref="Http2Exchange"/> when it agreed <c>h2</c> (its bytes unchanged, its
        /// frame headers read so that a drain can send GOAWAY and close it once its streams are done); null for a client
        /// that agreed any other protocol (a layer-4 flow).
        /// </summary>
        /// <remarks>
        /// A client that agreed <c>http/1.1</c> by ALPN speaks HTTP/1.1, so its flow is framed even when nothing is
        /// inserted or rewritten: the bytes pass unchanged (bytes that turn out not to be HTTP/1.x pass untouched, as
        /// under header insertion), and a drain can then close the client between two messages instead of cutting it at
        /// its deadline (docs/cluster.md, "Drain"). A client that named no protocol may speak anything: its flow is
        /// framed the same way only when its first bytes begin with a whole HTTP/1.x request line, and passed untouched
        /// from the start otherwise (<see cref="RequestFramer"/>).
        /// </remarks>
        private IRelayTransform? TransformFor(HandshakeInfo info, FlowCounters counters)
        {
            var server = (SslServerPlan)info.Tag!;
            var rules = _rewriters.GetOrAdd(server.BindingKey, _ => UrlRewriter.For(server.Server));
            var reuse = Reuses(server, info);
            var insertion = HttpOne(info) ? HttpHeaderFields.For(server.Server.HttpHeaders, info)?.CountedBy(counters.Headers) : null;
            if (rules.HasRules || reuse || insertion is not null || AgreedHttpOne(info)) return new HttpExchange(rules, reuse, insertion);
            return info.ApplicationProtocol switch
            {
                null => owner.FramedByFirstBytes(),
                "h2" => new Http2Exchange(),
                _ => null,
            };
        }

        private static bool HttpOne(HandshakeInfo info) => info.ApplicationProtocol is null || AgreedHttpOne(info);

        /// <summary>The client named HTTP/1.x by ALPN (not only "did not name another protocol").</summary>
        private static bool AgreedHttpOne(HandshakeInfo info) => info.ApplicationProtocol is "http/1.1" or "http/1.0";

        /// <summary>http-reuse applies to HTTP/1.x clients; a client that agreed h2 by ALPN has its flow passed through.</summary>
        private static bool Reuses(SslServerPlan server, HandshakeInfo info) =>
            server.Server.HttpReuseSeconds > 0 && !server.Server.SendProxyV2 && HttpOne(info);

        /// <summary>Where the flow's back-end connections come from under http-reuse: the ssl-server's pool, one per revision.</summary>
        private BackendReuse? ReuseFor(HandshakeInfo info)
        {
            var server = (SslServerPlan)info.Tag!;
            if (!Reuses(server, info)) return null;
            return _reuses.GetOrAdd(server.BindingKey, static (_, server) => new Lazy<BackendReuse>(() =>
            {
                var idle = server.Server.IdleTimeoutSeconds;
                return new BackendReuse(new BackendPool(TimeSpan.FromSeconds(server.Server.HttpReuseSeconds)),
                    TimeSpan.FromSeconds(idle > 0 ? idle : FirstRequestSeconds), TimeSpan.FromSeconds(idle));
            }), server).Value;
        }

        /// <summary>The real server for a whole request under http-reuse (by the balancer, at this moment), with its pool key and dial.</summary>
        private (object Key, Func<CancellationToken, ValueTask<BackendLink>> Dial)? ChooseBackend(HandshakeInfo info, string module)
        {
            var server = (SslServerPlan)info.Tag!;
            var idle = server.Server.IdleTimeoutSeconds;
            var (balancer, port) = BalancerFor(info);
            if (balancer.Next() is not { } target) return null;
            return (owner.ReuseKey(target, port, info.ApplicationProtocol),
                ct => WithIdleTimeout(owner.DialAsync(balancer, port, 3, module, _profiles.For, ct, info.ApplicationProtocol, target), idle));
        }

        /// <summary>How long an http-reuse client may take to send its first request when its ssl-server sets no idle timeout.</summary>
        private const int FirstRequestSeconds = 60;

        protected override void Released()
        {
            foreach (var reuse in _reuses.Values) if (reuse.IsValueCreated) reuse.Value.Pool.Dispose();
        }

        private (TargetBalancer Balancer, int Port) BalancerFor(HandshakeInfo info)
        {
            var server = (SslServerPlan)info.Tag!;
            var destination = server.DestinationFor(info.CipherSuiteName);
            var balancer = _destinations.GetOrAdd((destination.DestinationAddress, destination.DestinationPort), key =>
            {
                var (targets, balance) = WholePlan.Resolve(key.Item1, key.Item2);
                return new TargetBalancer(targets, balance, owner.Health, owner.Gauges, owner.Passive);
            });
            return (balancer, destination.DestinationPort);
        }

        private ValueTask<BackendLink> Dial(HandshakeInfo info, string module, CancellationToken ct)
        {
            var server = (SslServerPlan)info.Tag!;
            var (balancer, port) = BalancerFor(info);
            var preamble = server.Server.SendProxyV2 ? ProxyProtocolV2.Header(info.Client, new IPEndPoint(owner.Addresses.Map(Plan.Vip), Plan.Port), info) : null;
            return WithIdleTimeout(owner.DialAsync(balancer, port, 3, module, _profiles.For, ct, info.ApplicationProtocol, preamble: preamble),
                server.Server.IdleTimeoutSeconds);
        }

        private static async ValueTask<BackendLink> WithIdleTimeout(ValueTask<BackendLink> dial, int seconds)
        {
            var link = await dial;
            return seconds > 0 ? link with { IdleTimeout = TimeSpan.FromSeconds(seconds) } : link;
        }

        /// <summary>
        /// One TLS flow of a module on this listener: its routes (dial, transform, back-end re-use) and the observer
        /// that feeds the reference's three gauges, the outcome counters and the connection's state from its lifecycle,
        /// in one object per connection.
        /// </summary>
        private sealed class TlsFlow(TlsRuntime runtime, ModulePlan module, FlowCounters counters, ConnectionState state, StickyTable? sessions)
            : IFlowRoutes, IConnectionObserver
        {
            public ValueTask<BackendLink> DialAsync(HandshakeInfo handshake, CancellationToken cancellationToken) =>
                runtime.Dial(handshake, module.Name, cancellationToken);

            public IRelayTransform? TransformFor(HandshakeInfo handshake) => runtime.TransformFor(handshake, counters);

            public BackendReuse? ReuseFor(HandshakeInfo handshake) => runtime.ReuseFor(handshake);

            public (object Key, Func<CancellationToken, ValueTask<BackendLink>> Dial)? ChooseBackend(HandshakeInfo handshake) =>
                runtime.ChooseBackend(handshake, module.Name);

            public void HandshakeStarted(long connectionId, EndPoint? client) => state.Enter(ConnectionPhase.Handshake);

            public void HandshakeCompleted(long connectionId, HandshakeInfo handshake)
            {
                state.Enter(ConnectionPhase.Dialling);
                counters.HandshakeCompleted(handshake.Resumed);
                counters.ClientAuth(handshake.ClientAuth);
                if (handshake.ClientAuth is { Failed: true } auth && handshake.Tag is SslServerPlan { Server.ClientAuth.LogFailures: true })
                    runtime.Log.AuthFailureLetThrough(auth, runtime.Plan, state);
                if (sessions is not null && handshake.SessionId is { } id) sessions.Set(id, module.Name);
            }

            public void BackendConnected(long connectionId, EndPoint? backend) => state.RelayingTo(backend);

            public void ClientSideOpened(long connectionId, IByteCounts client) => state.Track(client);

            public void Closed(long connectionId, ConnectionSummary summary)
            {
                // The outcome first: a report taken in between never shows a connection gone without how it ended.
                counters.Outcome(summary.Error);
                counters.Closed(summary.Handshake is not null, summary.ClientBytesReceived, summary.ClientBytesSent, empty: summary.Error == ProxyError.ClientClosedEmpty);
                counters.ClientAuth(summary.RefusedClientAuth);
                state.End(summary.Error);
                runtime.Log.Ended(summary, runtime.Plan, state, tls: true);
            }
        }
    }

    /// <summary>The same for a clear-text relay, which has no handshake.</summary>
    private sealed class RelayObserver(FlowCounters counters, ConnectionState state, ConnectionLog log, ListenerPlan listener) : IConnectionObserver
    {
        public void HandshakeStarted(long connectionId, EndPoint? client)
        {
        }

        public void HandshakeCompleted(long connectionId, HandshakeInfo handshake)
        {
        }

        public void BackendConnected(long connectionId, EndPoint? backend) => state.RelayingTo(backend);

        public void ClientSideOpened(long connectionId, IByteCounts client) => state.Track(client);

        public void Closed(long connectionId, ConnectionSummary summary)
        {
            counters.Outcome(summary.Error);
            counters.ClosedRelay(summary.ClientBytesReceived, summary.ClientBytesSent);
            state.End(summary.Error);
            log.Ended(summary, listener, state, tls: false);
        }
    }
}
