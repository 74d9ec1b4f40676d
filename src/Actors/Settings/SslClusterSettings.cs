using Akka.Configuration;

namespace SslCluster.Actors.Settings;

/// <summary>The typed form of the <c>sslcluster</c> section of reference.conf; every default is documented there.</summary>
public sealed record SslClusterSettings
{
    public required string DataDir { get; init; }

    public required string AddressMap { get; init; }

    public required string AdminHost { get; init; }

    /// <summary>PKCS#12 file of this node's remoting certificate; empty: plain remoting.</summary>
    public string RemotingTlsCertificate { get; init; } = "";

    /// <summary>PEM file of the cluster CA that every peer's remoting certificate must chain to.</summary>
    public string RemotingTlsCa { get; init; } = "";

    public required int AdminPort { get; init; }

    public required string AdminToken { get; init; }

    /// <summary><c>node.admin.tokens-file</c>: more tokens with roles and contexts; empty: DATA-DIR/admin-tokens when it exists.</summary>
    public string AdminTokensFile { get; init; } = "";

    /// <summary><c>node.admin.tls.certificate</c>: PKCS#12 file of the admin endpoint's HTTPS certificate; empty: plain HTTP on loopback.</summary>
    public string AdminTlsCertificate { get; init; } = "";

    public required bool DemoEnabled { get; init; }

    public required string DemoVip { get; init; }

    public required int DemoHttpsPort { get; init; }

    public required int DemoHttpPort { get; init; }

    public required int DemoBackendPort { get; init; }


    public required int BufferSize { get; init; }

    /// <summary>Connections of the data-path warm-up before the listeners open (<c>proxy.warm-up-connections</c>); 0: none.</summary>
    public int WarmUpConnections { get; init; }

    /// <summary>
    /// A flow nothing else frames is framed as HTTP when its first bytes are a request line, for a clean drain
    /// (<c>proxy.frame-http-by-first-bytes</c>).
    /// </summary>
    public bool FrameHttpByFirstBytes { get; init; } = true;

    public required TimeSpan BackendConnectTimeout { get; init; }

    public required TimeSpan DrainTimeout { get; init; }

    public required int Backlog { get; init; }

    public required TimeSpan FlowReportInterval { get; init; }

    public required int NumberOfShards { get; init; }

    /// <summary>TLS 1.2 sessions a node keeps (its own and those replicated from the other nodes).</summary>
    public int SessionCacheSize { get; init; } = 20_000;

    /// <summary>Whether TLS 1.2 clients get session tickets.</summary>
    public bool SessionTickets { get; init; } = true;

    /// <summary>Share sessions and ticket keys between nodes even when remoting runs without TLS (not forward secret).</summary>
    public bool ShareSessionsWithoutRemotingTls { get; init; }

    /// <summary>True when sessions and ticket keys travel between nodes: over remoting TLS, or when allowed in clear.</summary>
    public bool ShareSessions => RemotingTlsCertificate.Length > 0 || ShareSessionsWithoutRemotingTls;

    /// <summary>How often the cluster's ticket-key owner makes a new ticket key.</summary>
    public TimeSpan TicketKeyRotation { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The node's connection limits and handshake rates (sslcluster.limits).</summary>
    public Protocol.Runtime.LimitSettings Limits { get; init; } = new();

    /// <summary>Failed connects in a row after which a real server is set aside (passive health).</summary>
    public int PassiveHealthFailures { get; init; } = 3;

    /// <summary>How long a server is set aside by passive health.</summary>
    public TimeSpan PassiveHealthAvoidFor { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a node waits for each page or chunk of a configuration transfer before starting it again.</summary>
    public TimeSpan ConfigTransferTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a node asks the store for its revision in case a notice was lost.</summary>
    public TimeSpan ConfigRevisionPoll { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a node may run behind the store's revision before it reports itself not ready.</summary>
    public TimeSpan ConfigMaxLag { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Whether a node keeps the contents of its configuration copy in <c>&lt;data-dir&gt;/replica</c>, so that a start
    /// fetches only what it does not hold (<see cref="Protocol.Distribution.ReplicaContentCache"/>).
    /// </summary>
    public bool ConfigLocalCopy { get; init; } = true;

    /// <summary>The defaults alone, as embedded beside this code.</summary>
    public static Config Reference { get; } = LoadReference();

    public static SslClusterSettings Create(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var c = config.WithFallback(Reference).GetConfig("sslcluster");
        var buffer = c.GetInt("proxy.buffer-size");
        var warmUp = c.GetInt("proxy.warm-up-connections");
        if (warmUp is < 0 or > 100_000)
            throw new ConfigurationException($"sslcluster.proxy.warm-up-connections must be from 0 (no warm-up) to 100000, not {warmUp}");
        if (buffer is < 1024 or > 1 << 20)
            throw new ConfigurationException($"sslcluster.proxy.buffer-size must be from 1024 to 1048576 bytes, not {buffer}");
        var sessionCacheSize = c.GetInt("tls.session-cache-size");
        if (sessionCacheSize is < 1 or > 10_000_000)
            throw new ConfigurationException($"sslcluster.tls.session-cache-size must be from 1 to 10000000 sessions, not {sessionCacheSize}");
        var rotation = c.GetTimeSpan("tls.ticket-key-rotation");
        // Keys are kept for a ticket lifetime (20 h) after they rotate out; below 15 minutes the list the owner sends
        // every node would outgrow a remoting frame.
        if (rotation < TimeSpan.FromMinutes(15) || rotation > TimeSpan.FromDays(1))
            throw new ConfigurationException($"sslcluster.tls.ticket-key-rotation must be from 15m to 1d, not {rotation}");
        var transferTimeout = c.GetTimeSpan("config.transfer-timeout");
        if (transferTimeout < TimeSpan.FromSeconds(1))
            throw new ConfigurationException($"sslcluster.config.transfer-timeout must be at least 1s, not {transferTimeout}");
        var poll = c.GetTimeSpan("config.revision-poll-interval");
        if (poll < TimeSpan.FromSeconds(1))
            throw new ConfigurationException($"sslcluster.config.revision-poll-interval must be at least 1s, not {poll}");
        var maxLag = c.GetTimeSpan("config.max-lag");
        if (maxLag < TimeSpan.FromSeconds(1))
            throw new ConfigurationException($"sslcluster.config.max-lag must be at least 1s, not {maxLag}");
        var whenFull = c.GetString("limits.when-full").ToLowerInvariant();
        if (whenFull is not ("refuse" or "queue"))
            throw new ConfigurationException($"sslcluster.limits.when-full must be refuse or queue, not '{whenFull}'");
        int NonNegative(string key)
        {
            var v = c.GetInt(key);
            return v >= 0 ? v : throw new ConfigurationException($"sslcluster.{key} must be 0 (no limit) or more, not {v}");
        }
        var limits = new Protocol.Runtime.LimitSettings
        {
            MaxConnections = NonNegative("limits.max-connections"),
            MaxHandshakeRate = NonNegative("limits.max-handshake-rate"),
            MaxHandshakeRatePerSource = NonNegative("limits.max-handshake-rate-per-source"),
            QueueWhenFull = whenFull == "queue",
        };
        var passiveFailures = c.GetInt("proxy.passive-health.failures");
        if (passiveFailures is < 1 or > 1000)
            throw new ConfigurationException($"sslcluster.proxy.passive-health.failures must be from 1 to 1000, not {passiveFailures}");
        var avoidFor = c.GetTimeSpan("proxy.passive-health.avoid-for");
        if (avoidFor < TimeSpan.Zero || avoidFor > TimeSpan.FromHours(1))
            throw new ConfigurationException($"sslcluster.proxy.passive-health.avoid-for must be from 0s (never set aside) to 1h, not {avoidFor}");
        return new SslClusterSettings
        {
            Limits = limits,
            PassiveHealthFailures = passiveFailures,
            PassiveHealthAvoidFor = avoidFor,
            ConfigTransferTimeout = transferTimeout,
            ConfigRevisionPoll = poll,
            ConfigMaxLag = maxLag,
            ConfigLocalCopy = c.GetBoolean("config.local-copy"),
            SessionCacheSize = sessionCacheSize,
            SessionTickets = c.GetBoolean("tls.session-tickets"),
            ShareSessionsWithoutRemotingTls = c.GetBoolean("tls.share-sessions-without-remoting-tls"),
            TicketKeyRotation = rotation,
            DataDir = c.GetString("node.data-dir"),
            AddressMap = c.GetString("node.address-map"),
            AdminHost = c.GetString("node.admin.host"),
            RemotingTlsCertificate = c.GetString("node.remoting-tls.certificate", ""),
            RemotingTlsCa = c.GetString("node.remoting-tls.ca", ""),
            AdminPort = c.GetInt("node.admin.port"),
            AdminToken = c.GetString("node.admin.token"),
            AdminTokensFile = c.GetString("node.admin.tokens-file", ""),
            AdminTlsCertificate = c.GetString("node.admin.tls.certificate", ""),
            DemoEnabled = c.GetBoolean("node.demo.enabled"),
            DemoVip = c.GetString("node.demo.vip"),
            DemoHttpsPort = c.GetInt("node.demo.https-port"),
            DemoHttpPort = c.GetInt("node.demo.http-port"),
            DemoBackendPort = c.GetInt("node.demo.backend-port"),
            BufferSize = buffer,
            WarmUpConnections = warmUp,
            FrameHttpByFirstBytes = c.GetBoolean("proxy.frame-http-by-first-bytes"),
            BackendConnectTimeout = c.GetTimeSpan("proxy.backend-connect-timeout"),
            DrainTimeout = c.GetTimeSpan("proxy.drain-timeout"),
            Backlog = c.GetInt("proxy.backlog"),
            FlowReportInterval = c.GetTimeSpan("flows.report-interval"),
            NumberOfShards = c.GetInt("sharding.number-of-shards"),
        };
    }

    private static Config LoadReference()
    {
        using var stream = typeof(SslClusterSettings).Assembly.GetManifestResourceStream("SslCluster.Actors.reference.conf")
            ?? throw new InvalidOperationException("reference.conf is not embedded in SslCluster.Actors");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }
}
