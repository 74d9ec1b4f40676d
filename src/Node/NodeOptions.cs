using System.Globalization;
using System.Text;
using Akka.Configuration;
using SslCluster.Actors.Settings;

namespace SslCluster.Node;

/// <summary>
/// The command line of sslnode. Options become HOCON overrides layered over the given files and the embedded
/// defaults, so every option is also a configuration key (documented in reference.conf).
/// </summary>
public sealed record NodeOptions(Config Config, bool ShowHelp)
{
    public const string Usage = """
        usage: sslnode [options]
          --config FILE          a HOCON file (repeatable; later files win); see hocon/ for overlays
          --data-dir DIR         journal, master key, admin token and the configuration's local copy (default ./data)
          --demo                 demo mode: self-signed certificate, demo VIP, bundled HTTP backend
          --admin-port N         admin endpoint port on 127.0.0.1 (default 9440)
          --address-map MAP      map configured addresses, e.g. private-to-loopback or 10.0.0.1=127.0.0.2
          --remoting-port N      Akka remoting port (default 4053; 0 picks a free one)
          --hostname HOST        Akka remoting host name (default 127.0.0.1)
          --seed ADDRESS         a seed node, e.g. akka.tcp://sslcluster@127.0.0.1:4053 (repeatable)
          --contact-points LIST  form the cluster with Akka Cluster Bootstrap over these management endpoints,
                                 HOST:PORT,HOST:PORT,... (every node's, this node's own among them; same list on
                                 every node); instead of --seed
          --discovery kubernetes form the cluster with Akka Cluster Bootstrap over the pods the Kubernetes API lists
                                 (see k8s/ and docs/kubernetes.md)
          --management-port N    the management endpoint's port for bootstrap (default 8558), on --hostname
          --remoting-tls P12,CA  mutual TLS between nodes: this node's PKCS#12 (password in
                                 SSLCLUSTER_REMOTING_TLS_PASSWORD) and the cluster CA (PEM) peers must chain to
          --journal-postgres CONN the configuration journal in PostgreSQL (an Npgsql connection string), for clusters;
                                 or SSLCLUSTER_JOURNAL_POSTGRES in the environment (keeps its password out of the
                                 process list); without either the journal is SQLite in the data folder
          --log-format text|json lines for a person (default) or one JSON object per line
          --set KEY=VALUE        any configuration key (repeatable)
        """;

    /// <summary>The environment variable that gives the PostgreSQL journal when --journal-postgres does not.</summary>
    public const string JournalVariable = "SSLCLUSTER_JOURNAL_POSTGRES";

    public static NodeOptions Parse(string[] args) => Parse(args, Environment.GetEnvironmentVariable);

    public static NodeOptions Parse(string[] args, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        var overrides = new StringBuilder();
        var files = new List<string>();
        var seeds = new List<string>();
        var journal = false;
        void Journal(string connection, string source)
        {
            // The cluster's journal: every node of a cluster names the same database, so the configuration store
            // singleton finds its events wherever it runs. SQLite stays the single-node default.
            if (!connection.Contains("Host=", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"{source} takes an Npgsql connection string such as 'Host=127.0.0.1;Port=5432;Username=u;Password=p;Database=d', not '{Redacted(connection)}'");
            foreach (var store in new[] { "akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql" })
            {
                overrides.Append(store).Append(".connection-string = ").Append(Quote(connection)).Append('\n');
                overrides.Append(store).Append(".provider-name = \"PostgreSQL.15\"\n");
            }
            journal = true;
        }
        for (var i = 0; i < args.Length; i++)
        {
            string Value()
            {
                if (i + 1 >= args.Length) throw new ArgumentException($"{args[i]} needs a value");
                return args[++i];
            }
            void Set(string key, string value) => overrides.Append(key).Append(" = ").Append(Quote(value)).Append('\n');
            switch (args[i])
            {
                case "-h" or "--help": return new NodeOptions(ConfigurationFactory.Empty, true);
                case "--config":
                    var file = Value();
                    if (!File.Exists(file)) throw new ArgumentException($"--config: file '{file}' does not exist");
                    files.Add(file);
                    break;
                case "--data-dir": Set("sslcluster.node.data-dir", Value()); break;
                case "--demo": overrides.Append("sslcluster.node.demo.enabled = on\n"); break;
                case "--admin-port": Set("sslcluster.node.admin.port", Port(Value(), "--admin-port")); break;
                case "--address-map": Set("sslcluster.node.address-map", Value()); break;
                case "--remoting-port": Set("akka.remote.dot-netty.tcp.port", Port(Value(), "--remoting-port", allowZero: true)); break;
                case "--hostname": Set("akka.remote.dot-netty.tcp.hostname", Value()); break;
                case "--seed": seeds.Add(Value()); break;
                case "--contact-points":
                    var points = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (points.Length == 0) throw new ArgumentException("--contact-points takes HOST:PORT,HOST:PORT,... (every node's management endpoint)");
                    foreach (var point in points)
                    {
                        try
                        {
                            ClusterFormation.ParseContactPoint(point);
                        }
                        catch (ConfigurationException e)
                        {
                            throw new ArgumentException("--contact-points: " + e.Message);
                        }
                    }
                    overrides.Append("sslcluster.node.bootstrap.discovery = config\n");
                    overrides.Append("sslcluster.node.bootstrap.contact-points = [").Append(string.Join(", ", points.Select(Quote))).Append("]\n");
                    break;
                case "--discovery":
                    var method = Value();
                    if (method is not ("kubernetes" or "config")) throw new ArgumentException($"--discovery takes kubernetes or config, not '{method}'");
                    Set("sslcluster.node.bootstrap.discovery", method);
                    break;
                case "--management-port": Set("sslcluster.node.bootstrap.management-port", Port(Value(), "--management-port")); break;
                case "--crypto":
                    // Kept so that scripts written for the engine switch still start a node: openssl is the only engine.
                    var engine = Value();
                    if (engine != "openssl") throw new ArgumentException($"--crypto {engine}: the BouncyCastle engines were removed; OpenSSL is the only TLS engine (drop the option)");
                    break;
                case "--log-format":
                    var format = Value();
                    if (format is not ("text" or "json")) throw new ArgumentException($"--log-format takes text or json, not '{format}'");
                    Set("sslcluster.node.log.format", format);
                    break;
                case "--remoting-tls":
                    // CERT.p12,CA.pem: mutual TLS between the nodes, see reference.conf (sslcluster.node.remoting-tls).
                    var pair = Value().Split(',', 2);
                    if (pair.Length != 2 || pair.Any(f => !File.Exists(f)))
                        throw new ArgumentException($"--remoting-tls takes NODE.p12,CLUSTER-CA.pem (two existing files), not '{string.Join(',', pair)}'");
                    Set("sslcluster.node.remoting-tls.certificate", Path.GetFullPath(pair[0]));
                    Set("sslcluster.node.remoting-tls.ca", Path.GetFullPath(pair[1]));
                    break;
                case "--journal-postgres": Journal(Value(), "--journal-postgres"); break;
                case "--set":
                    var kv = Value();
                    var eq = kv.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0) throw new ArgumentException($"--set takes KEY=VALUE, not '{kv}'");
                    Set(kv[..eq].Trim(), kv[(eq + 1)..].Trim());
                    break;
                default:
                    throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        if (!journal && environment(JournalVariable) is { Length: > 0 } fromEnvironment) Journal(fromEnvironment, JournalVariable);
        if (seeds.Count > 0)
            overrides.Append("akka.cluster.seed-nodes = [").Append(string.Join(", ", seeds.Select(Quote))).Append("]\n");
        var config = ConfigurationFactory.ParseString(overrides.ToString());
        foreach (var file in Enumerable.Reverse(files))
            config = config.WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(file)));
        return new NodeOptions(config, false);
    }

    private static string Port(string value, string option, bool allowZero = false)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535 || (port == 0 && !allowZero))
            throw new ArgumentException($"{option} must be a port number from {(allowZero ? 0 : 1)} to 65535, not '{value}'");
        return value;
    }

    /// <summary>A connection string without its password, for an error message.</summary>
    private static string Redacted(string connection) =>
        System.Text.RegularExpressions.Regex.Replace(connection, "(?i)(password|pwd)=[^;]*", "$1=***");

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
