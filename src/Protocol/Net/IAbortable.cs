namespace SslCluster.Protocol.Net;

/// <summary>A connection's data path that can be ended from outside: a kill, a drain's deadline, its actor stopping.</summary>
public interface IAbortable
{
    /// <summary>Ends the connection now (both sockets closed); a connection that already ended is unaffected.</summary>
    void Abort();
}
