using System.Net;
using System.Net.Sockets;

namespace SslCluster.Protocol.Runtime;

/// <summary>
/// Maps the addresses a configuration names to the ones this node really listens on and dials. The reference
/// configurations name private addresses (10.x, 172.x, 192.x); tests and demos map them onto loopback so that nothing
/// is ever sent to the real ones. The configuration itself keeps the addresses as written.
/// </summary>
public sealed class AddressMap
{
    public static AddressMap Identity { get; } = new(new Dictionary<IPAddress, IPAddress>(), false);

    private readonly Dictionary<IPAddress, IPAddress> _pairs;
    private readonly bool _privateToLoopback;

    private AddressMap(Dictionary<IPAddress, IPAddress> pairs, bool privateToLoopback)
    {
        _pairs = pairs;
        _privateToLoopback = privateToLoopback;
    }

    /// <summary>
    /// Parses the node setting: empty (identity), <c>private-to-loopback</c>, or <c>A=B,C=D</c> pairs, optionally
    /// followed by <c>,private-to-loopback</c> for every address not named.
    /// </summary>
    public static AddressMap Parse(string? setting)
    {
        if (string.IsNullOrWhiteSpace(setting)) return Identity;
        var pairs = new Dictionary<IPAddress, IPAddress>();
        var rule = false;
        foreach (var raw in setting.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (raw.Equals("private-to-loopback", StringComparison.OrdinalIgnoreCase))
            {
                rule = true;
                continue;
            }
            var parts = raw.Split('=', StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out var from) || !IPAddress.TryParse(parts[1], out var to))
                throw new FormatException($"address-map entry '{raw}' is not FROM=TO with two IP addresses (or 'private-to-loopback')");
            if (!pairs.TryAdd(from, to))
                throw new FormatException($"address-map names {from} twice");
        }
        return new AddressMap(pairs, rule);
    }

    public IPAddress Map(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (_pairs.TryGetValue(address, out var to)) return to;
        if (_privateToLoopback && address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            // The reference documents use 192.191.x as well as RFC 1918 ranges: map every 10/172/192 address the same
            // way so that their samples work whole.
            if (b[0] is 10 or 172 or 192) return new IPAddress([127, b[1], b[2], b[3]]);
        }
        return address;
    }

    public IPAddress Map(string address) => Map(IPAddress.Parse(address));

    public IPEndPoint Map(string address, int port) => new(Map(address), port);
}
