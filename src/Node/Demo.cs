using System.Net;
using System.Security.Cryptography;
using Akka.Actor;
using SslCluster.Actors;
using SslCluster.Actors.ConfigStore;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Demo;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Node;

/// <summary>
/// Demo mode (<c>./run.sh</c>): the bundled HTTP backend, and on first start a generated RSA key, a self-signed
/// certificate and a configuration in the reference's shape: an SSL module whose ssl-server terminates TLS on the
/// demo VIP and forwards clear text to an HTTP content rule balancing the backend. Everything is created through the
/// same commands an operator would type, so it lands in the journal and survives restarts like any configuration.
/// </summary>
internal static class Demo
{
    public static async Task<DemoHttpServer> StartAsync(SslClusterHandles h, SslCommands ssl, SslClusterSettings s, AddressMap addresses)
    {
        var backend = new DemoHttpServer(new DemoHttpServerOptions
        {
            EndPoint = new IPEndPoint(addresses.Map(s.DemoVip), s.DemoBackendPort),
            Name = "sslcluster demo backend",
            // The operator chose the demo VIP; a non-loopback one is deliberate.
            AllowNonLoopback = true,
        });
        await backend.StartAsync();

        // At start the store may still be recovering: wait for it (and for this node's copy) longer than a query would.
        var revision = await h.ConfigStore.Ask<ConfigStoreProtocol.RevisionAvailable>(ConfigStoreProtocol.GetRevision.Instance, TimeSpan.FromSeconds(30));
        var current = await h.ConfigFollower.Ask<ConfigFollowerActor.CurrentCopy>(new ConfigFollowerActor.WaitForRevision(revision.Revision, TimeSpan.FromSeconds(30)), TimeSpan.FromSeconds(35));
        if (!current.Config.ProxyLists.ContainsKey("demo"))
        {
            await CreateAsync(h, ssl, s);
        }

        var dataDir = Path.GetFullPath(s.DataDir);
        if (NodeLog.Json)
        {
            NodeLog.Info($"demo: https://{s.DemoVip}:{s.DemoHttpsPort}/ terminates TLS and forwards to the bundled backend through {s.DemoVip}:{s.DemoHttpPort}");
            return backend;
        }
        Console.WriteLine($"""

            Demo is up: https://{s.DemoVip}:{s.DemoHttpsPort}/ terminates TLS (self-signed certificate) and forwards to
            the bundled backend through the clear-text content rule {s.DemoVip}:{s.DemoHttpPort}.

              curl -k https://{s.DemoVip}:{s.DemoHttpsPort}/
              curl -k -o /dev/null -w '%{"{"}size_download{"}"} bytes\n' https://{s.DemoVip}:{s.DemoHttpsPort}/bytes/10485760
              openssl s_client -connect {s.DemoVip}:{s.DemoHttpsPort} -brief </dev/null
              ./sslctl --data-dir {dataDir} show ssl flows
              ./sslctl --data-dir {dataDir} show running-config
              ./sslctl --data-dir {dataDir} configure my.cfg

            Ctrl-C stops the node; its configuration, keys and certificates stay in {dataDir}.

            """);
        return backend;
    }

    private static async Task CreateAsync(SslClusterHandles h, SslCommands ssl, SslClusterSettings s)
    {
        // The demo key's export password is random and kept beside the journal (0600), never printed.
        var passwordFile = Path.Combine(Path.GetFullPath(s.DataDir), "demo-key.password");
        var password = File.Exists(passwordFile) ? (await File.ReadAllTextAsync(passwordFile)).Trim() : Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        if (!File.Exists(passwordFile)) await PrivateFile.WriteTextAsync(passwordFile, password);

        var (copy, _) = await ConfigReads.CurrentAsync(h);
        var have = copy.Files.Keys.ToHashSet(StringComparer.Ordinal);
        if (!have.Contains("demo-key")) Check(await ssl.ExecuteAsync(["ssl", "genrsa", "demo-key", "2048", password]));
        if (!have.Contains("demo-cert"))
            Check(await ssl.ExecuteAsync(["ssl", "gencert", "certkey", "demo-key", "signkey", "demo-key", "demo-cert", password, "cn=localhost", $"san=localhost,{s.DemoVip}", "days=825"]));

        var text = $"""
            ssl associate rsakey demo-key demo-key
            ssl associate cert demo-cert demo-cert
            ssl-proxy-list demo
              ssl-server 1
              ssl-server 1 rsakey demo-key
              ssl-server 1 rsacert demo-cert
              ssl-server 1 vip address {s.DemoVip}
              ssl-server 1 port {s.DemoHttpsPort}
              ssl-server 1 cipher all-cipher-suites {s.DemoVip} {s.DemoHttpPort}
              active
            service demo-backend
              ip address {s.DemoVip}
              port {s.DemoBackendPort}
              active
            service demo-ssl
              type ssl-accel
              slot 1
              keepalive type none
              add ssl-proxy-list demo
              active
            owner demo
              content demo-http
                vip address {s.DemoVip}
                protocol tcp
                port {s.DemoHttpPort}
                add service demo-backend
                active
              content demo-https
                vip address {s.DemoVip}
                protocol tcp
                port {s.DemoHttpsPort}
                add service demo-ssl
                active
            """;
        var reply = await h.ConfigStore.Ask<object>(new ConfigStoreProtocol.ApplyConfig(text, "demo"), TimeSpan.FromSeconds(30));
        if (reply is ConfigStoreProtocol.ConfigRejected r)
            throw new NodeStartupException("the demo configuration was rejected: " + string.Join("; ", r.Diagnostics));
        // The instructions are printed once the demo VIP listens, not before.
        if (reply is ConfigStoreProtocol.ConfigApplied applied)
        {
            for (var i = 0; i < 200; i++)
            {
                var ready = await h.NodeRuntime.Ask<Actors.Dispatch.NodeRuntimeActor.Readiness>(Actors.Dispatch.NodeRuntimeActor.GetReadiness.Instance, TimeSpan.FromSeconds(5));
                if (ready.Revision >= applied.Revision && ready.Pending.Count == 0) break;
                await Task.Delay(50);
            }
        }
    }

    private static void Check(SslCommandResponse r)
    {
        if (!r.Succeeded) throw new NodeStartupException("demo set-up failed: " + r.Output);
    }
}
