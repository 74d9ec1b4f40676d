using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Net;

/// <summary>
/// What a TLS flow asks of its listener once the handshake is done: the dial to its back end, the transform of its
/// clear text, and under http-reuse where its requests go. One object per connection answers all of it (the data plane's
/// also observes the connection), so that an idle connection keeps one small object for them rather than a delegate and
/// a closure for each.
/// </summary>
internal interface IFlowRoutes
{
    /// <summary>Connects to the destination the handshake chose (the connection owns the socket).</summary>
    ValueTask<BackendLink> DialAsync(HandshakeInfo handshake, CancellationToken cancellationToken);

    /// <summary>The transform of the clear text (URL rewrite, header insertion, http-reuse), or null to pass it unchanged.</summary>
    IRelayTransform? TransformFor(HandshakeInfo handshake);

    /// <summary>The back-end connection re-use of the flow when its transform owns the back-end connection, or null.</summary>
    BackendReuse? ReuseFor(HandshakeInfo handshake);

    /// <summary>
    /// Under http-reuse, picks the real server once a request is whole: the pool key of its connections and the dial to
    /// it; null when no server can take the flow now (the ordinary dial then reports why).
    /// </summary>
    (object Key, Func<CancellationToken, ValueTask<BackendLink>> Dial)? ChooseBackend(HandshakeInfo handshake);
}

/// <summary>The routes of a connection built from delegates (the public constructors, tests and the stand-alone listener).</summary>
internal sealed class DelegateRoutes(Func<HandshakeInfo, CancellationToken, ValueTask<BackendLink>> dial,
    Func<HandshakeInfo, IRelayTransform?>? transformFor) : IFlowRoutes
{
    public ValueTask<BackendLink> DialAsync(HandshakeInfo handshake, CancellationToken cancellationToken) => dial(handshake, cancellationToken);

    public IRelayTransform? TransformFor(HandshakeInfo handshake) => transformFor?.Invoke(handshake);

    public BackendReuse? ReuseFor(HandshakeInfo handshake) => null;

    public (object Key, Func<CancellationToken, ValueTask<BackendLink>> Dial)? ChooseBackend(HandshakeInfo handshake) => null;
}
