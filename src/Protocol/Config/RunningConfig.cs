namespace SslCluster.Protocol.Config;

/// <summary>
/// The whole configuration of the cluster, as <c>show running-config</c> prints it: immutable, compared by value,
/// validated as a whole before it replaces the previous one.
/// </summary>
public sealed record RunningConfig
{
    public static RunningConfig Empty { get; } = new();

    public ValueMap<string, KeyAssociation> Associations { get; init; } = ValueMap<string, KeyAssociation>.Empty;

    public ValueMap<string, SslProxyList> ProxyLists { get; init; } = ValueMap<string, SslProxyList>.Empty;

    /// <summary>Global keepalives (<c>keepalive NAME</c> blocks).</summary>
    public ValueMap<string, GlobalKeepalive> Keepalives { get; init; } = ValueMap<string, GlobalKeepalive>.Empty;

    public ValueMap<string, Service> Services { get; init; } = ValueMap<string, Service>.Empty;

    public ValueMap<string, Owner> Owners { get; init; } = ValueMap<string, Owner>.Empty;

    /// <summary><c>ssl-proxy context NAME</c> blocks (the SSL Services Module face).</summary>
    public ValueMap<string, SslmContext> Contexts { get; init; } = ValueMap<string, SslmContext>.Empty;

    /// <summary><c>crypto pki trustpoint NAME</c> blocks, each with its certificate chain.</summary>
    public ValueMap<string, PkiTrustpoint> Trustpoints { get; init; } = ValueMap<string, PkiTrustpoint>.Empty;

    /// <summary><c>crypto pki certificate map NAME SEQUENCE</c> blocks, by name.</summary>
    public ValueMap<string, PkiCertificateMap> CertificateMaps { get; init; } = ValueMap<string, PkiCertificateMap>.Empty;

    /// <summary>Every content rule with its owner, in print order.</summary>
    public IEnumerable<(Owner Owner, ContentRule Rule)> ContentRules =>
        Owners.Values.SelectMany(o => o.Contents.Values.Select(r => (o, r)));

    /// <summary>The SSL modules: services of type ssl-accel.</summary>
    public IEnumerable<Service> SslModules => Services.Values.Where(s => s.Type == ServiceType.SslAccel);
}
