using System.Net;
using System.Net.Sockets;

namespace SslCluster.TestSupport;

/// <summary>
/// A loopback listener that accepts every connection and never says a word (a responder that hangs, the SSLM's caveat
/// CSCsl74182). Dispose closes it and every connection it holds.
/// </summary>
public sealed class SilentListener : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<Socket> _held = [];
    private readonly Task _accepting;

    public SilentListener()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptAsync();
                    lock (_held) _held.Add(socket);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Closed.
            }
        });
    }

    public int Port { get; }

    /// <summary>An http URL on it.</summary>
    public string Url => $"http://127.0.0.1:{Port}/";

    /// <summary>Connections accepted so far.</summary>
    public int Accepted
    {
        get
        {
            lock (_held) return _held.Count;
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        _accepting.Wait(TimeSpan.FromSeconds(5));
        lock (_held) _held.ForEach(s => s.Dispose());
    }
}
