using System.Net;
using System.Net.Sockets;
using Akka.Configuration;

namespace SslCluster.Node;

/// <summary>
/// Seed nodes derived from DNS (<c>--seed-dns NAME:PORT</c>): every address the name resolves to, in one order that
/// every node computes alike (IPv4 before IPv6, then by bytes), so that all nodes agree on the first seed, the only
/// one that may form a new cluster by itself (Akka's rule). On Kubernetes, NAME is the StatefulSet's headless
/// service (publishNotReadyAddresses: true), which resolves to every pod. Nodes that start together could see
/// different answers (each node first of its own list would form a cluster of its own), so the answer is taken only
/// once it holds at least <c>seed-dns-min-addresses</c> addresses and has not changed for <c>seed-dns-stable</c>.
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
        var stable = config.GetTimeSpan("sslcluster.node.seed-dns-stable", TimeSpan.FromSeconds(5));
        var minimum = config.GetInt("sslcluster.node.seed-dns-min-addresses", 1);
        var tls = config.GetString("sslcluster.node.remoting-tls.certificate", "").Length > 0;
        var own = config.GetString("akka.remote.dot-netty.tcp.hostname", "");
        // Akka lets a node form a cluster only when the first seed is exactly its own address: with IP seeds, a node
        // known by a name would never match, and a cluster would never form.
        if (!IPAddress.TryParse(own, out _))
            throw new NodeStartupException($"seed-dns needs this node's remoting host name to be its IP address (--hostname ADDRESS), not '{own}': the seeds are IP addresses");
        var deadline = DateTime.UtcNow + timeout;
        IReadOnlyList<string> last = [];
        var since = DateTime.UtcNow;
        while (true)
        {
            string why;
            try
            {
                var seeds = SeedsFrom(await resolve(name), port, tls, own);
                if (!seeds.SequenceEqual(last))
                {
                    last = seeds;
                    since = DateTime.UtcNow;
                }
                if (seeds.Count >= minimum && DateTime.UtcNow - since >= stable)
                {
                    log($"seed nodes from DNS name {name}: {string.Join(", ", seeds)}");
                    var list = string.Join(", ", seeds.Select(s => "\"" + s + "\""));
                    return ConfigurationFactory.ParseString($"akka.cluster.seed-nodes = [{list}]").WithFallback(config);
                }
                why = seeds.Count < minimum ? $"{seeds.Count} address(es), at least {minimum} wanted" : "the answer is still changing";
            }
            catch (SocketException e)
            {
                why = e.Message;
            }
            if (DateTime.UtcNow + retry > deadline)
                throw new NodeStartupException($"seed-dns: '{name}' gave no seed list within {timeout.TotalSeconds:0} s ({why})");
            await Task.Delay(retry);
        }
    }
}
