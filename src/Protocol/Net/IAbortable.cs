namespace SslCluster.Protocol.Net;

/// <summary>A connection's data path that can be ended from outside: a kill, a drain's deadline, its actor stopping.</summary>
public interface IAbortable
{
    /// <summary>Ends the connection now (both sockets closed); a connection that already ended is unaffected.</summary>
    void Abort();

    /// <summary>
    /// The node is draining: end the connection at a point where the client loses nothing, where it has one (an HTTP
    /// keep-alive client waiting for its next request, or after an answer sent with <c>Connection: close</c>). One that
    /// has none ends by itself or at the drain's deadline. Any thread, more than once.
    /// </summary>
    void GoAway();
}
