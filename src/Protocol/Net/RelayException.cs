namespace SslCluster.Protocol.Net;

/// <summary>An I/O failure already classified by side and phase at the place it happened.</summary>
internal sealed class RelayException(ProxyError error, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public ProxyError Error { get; } = error;
}
