using System.Net;
using System.Net.Sockets;
using Akka.Configuration;

namespace SslCluster.Node;

/// <summary>
/// Seed nodes derived from DNS (<c>--seed-dns NAME:PORT</c>): every address the name resolves to, in one order that
/// every node computes alike (IPv4 before IPv6, then by bytes), so that all nodes agree on the first seed, the only
/// one that may form a new cluster by itself (Akka's rule). On Kubernetes, NAME is the StatefulSet's headless
/// service (publishNotReadyAddresses: true), which resolves to every pod.
/// </summary>
internal static class SeedDns
{
    /// <summary>The seed addresses for <paramref name="addresses"/>, keeping only the family of this node's own host when it is an IP.</summary>
    public static IReadOnlyList<string> SeedsFrom(IEnumerable<IPAddress> addresses, int port, bool tls, string ownHost)
    {
        var family = IPAddress.TryParse(ownHost, out var own) ? own.AddressFamily : (AddressFamily?)null;
        var scheme = tls ? "akka.ssl.tcp" : "akka.tcp";
        return addresses
            .Select(a => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a)
            .Where(a => family is null || a.AddressFamily == family)
            .Distinct()
            .OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)
            .ThenBy(a => Convert.ToHexString(a.GetAddressBytes()), StringComparer.Ordinal)
            .Select(a => $"{scheme}://sslcluster@{(a.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{a}]" : a.ToString())}:{port}")
            .ToList();
    }

    /// <summary>NAME and PORT of a <c>seed-dns</c> value; throws with the reason when it is not one.</summary>
    public static (string Name, int Port) ParseTarget(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new FormatException($"seed-dns takes NAME:PORT (the remoting port of the nodes), not '{value}'");
        return (value[..colon], port);
    }

    /// <summary>
    /// When <c>sslcluster.node.seed-dns</c> is set and no seed is configured, resolves it (again every second until
    /// it answers or the timeout passes) and returns the configuration with those seeds.
    /// </summary>
    public static async Task<Config> ApplyAsync(Config config, Func<string, Task<IPAddress[]>> resolve, TimeSpan retry, Action<string> log)
    {
        var target = config.GetString("sslcluster.node.seed-dns", "");
        if (target.Length == 0 || config.GetStringList("akka.cluster.seed-nodes").Count > 0) return config;
        var (name, port) = ParseTarget(target);
        var timeout = config.GetTimeSpan("sslcluster.node.seed-dns-timeout", TimeSpan.FromSeconds(60));
        var tls = config.GetString("sslcluster.node.remoting-tls.certificate", "").Length > 0;
        var own = config.GetString("akka.remote.dot-netty.tcp.hostname", "");
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            string why;
            try
            {
                var seeds = SeedsFrom(await resolve(name), port, tls, own);
                if (seeds.Count > 0)
                {
                    log($"seed nodes from DNS name {name}: {string.Join(", ", seeds)}");
                    var list = string.Join(", ", seeds.Select(s => "\"" + s + "\""));
                    return ConfigurationFactory.ParseString($"akka.cluster.seed-nodes = [{list}]").WithFallback(config);
                }
                why = "no address of this node's family";
            }
            catch (SocketException e)
            {
                why = e.Message;
            }
            if (DateTime.UtcNow + retry > deadline)
                throw new NodeStartupException($"seed-dns: '{name}' gave no seed node within {timeout.TotalSeconds:0} s ({why})");
            await Task.Delay(retry);
        }
    }
}
