using System.Net;
using System.Net.Sockets;

namespace SslCluster.TestSupport;

/// <summary>
/// Ports for the listeners of tests and of the nodes they start. A port the kernel hands out for an ephemeral bind
/// (port 0, and every outgoing connection) can be handed out again, to another test or connection, between the probe
/// and the real bind. These come from below the kernel's ephemeral range instead (32,768 and up on Linux), each at
/// most once per process, and each checked free on <paramref name="address"/> when handed out, so two tests never
/// receive the same port and no connection takes one meanwhile.
/// </summary>
public static class Ports
{
    private const int First = 20_000;
    private const int Count = 12_000;

    // Processes start at different places of the range (one test project runs at a time, but a node process it
    // started may outlive it briefly).
    private static int _next = Environment.ProcessId * 7_919 % Count;

    /// <summary>A port free on <paramref name="address"/> now, never handed out before by this process.</summary>
    public static int Free(string address = "127.0.0.1")
    {
        var ip = IPAddress.Parse(address);
        for (var tries = 0; tries < Count; tries++)
        {
            var port = First + (int)((uint)Interlocked.Increment(ref _next) % Count);
            try
            {
                using var probe = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                probe.Bind(new IPEndPoint(ip, port));
                return port;
            }
            catch (SocketException)
            {
                // In use (or lingering): the next one.
            }
        }

        throw new InvalidOperationException($"no free port left in {First}-{First + Count - 1} on {address}");
    }
}
