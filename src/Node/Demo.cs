using System.Net;
using System.Security.Cryptography;
using Akka.Actor;
using SslCluster.Actors;
using SslCluster.Actors.ConfigStore;
using SslCluster.Actors.Dispatch;
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

        // Under cluster bootstrap the node joins only once its peers answer (pods may start minutes apart): wait for that
        // first, as long as bootstrap itself would, then for the store (it may still be recovering) and this node's copy.
        await WaitUntilUpAsync(h.System);
        ConfigFollowerActor.CurrentCopy current;
        try
        {
            var revision = await h.ConfigStore.Ask<ConfigStoreProtocol.RevisionAvailable>(ConfigStoreProtocol.GetRevision.Instance, TimeSpan.FromSeconds(30));
            current = await h.ConfigFollower.Ask<ConfigFollowerActor.CurrentCopy>(new ConfigFollowerActor.WaitForRevision(revision.Revision, TimeSpan.FromSeconds(30)), TimeSpan.FromSeconds(35));
        }
        catch (AskTimeoutException)
        {
            throw new NodeStartupException("demo: the configuration store did not answer within 30 s of this node joining the cluster");
        }
        if (!current.Config.ProxyLists.ContainsKey("demo"))
        {
            // Nodes of a cluster start together (Cluster Bootstrap): the oldest member creates the demo, the others
            // wait for it to reach them, so that no two nodes generate the key or apply the configuration at once.
            if (IsOldest(h.System)) await CreateAsync(h, ssl, s);
            else await WaitForDemoAsync(h);
        }

        // "Up" means serving: this node's copy holds the demo, and its listeners open a little after that.
        var copy = await h.ConfigFollower.Ask<ConfigFollowerActor.CurrentCopy>(ConfigFollowerActor.GetCopy.Instance, TimeSpan.FromSeconds(10));
        // Ready includes the data path's warm-up: the listeners accept once it has run.
        await WaitServingAsync(h, copy.Revision);

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

    private static async Task WaitUntilUpAsync(ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        var limit = system.Settings.Config.GetTimeSpan("sslcluster.node.bootstrap.join-timeout", TimeSpan.FromSeconds(60)) + TimeSpan.FromMinutes(5);
        if (await Task.WhenAny(up.Task, Task.Delay(limit)) != up.Task)
            throw new NodeStartupException($"demo: this node did not join a cluster within {limit.TotalSeconds:0} s (cluster bootstrap waits for every required contact point)");
    }

    /// <summary>Whether this node is the oldest member up (it hosts the singletons); once this node is up it is among them.</summary>
    private static bool IsOldest(ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var oldest = cluster.State.Members.Where(m => m.Status == Akka.Cluster.MemberStatus.Up).OrderBy(m => m, Akka.Cluster.Member.AgeOrdering).FirstOrDefault();
        return oldest is not null && oldest.Address == cluster.SelfAddress;
    }

    /// <summary>Waits until the listeners of <paramref name="revision"/> (or a later one) all accept (their warm-up run).</summary>
    private static async Task WaitServingAsync(SslClusterHandles h, long revision)
    {
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120); DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            var readiness = await h.NodeRuntime.Ask<NodeRuntimeActor.Readiness>(NodeRuntimeActor.GetReadiness.Instance, TimeSpan.FromSeconds(10));
            if (readiness.Revision < revision) continue;
            if (readiness.Ready) return;
            if (readiness.Problems.Count > 0)
            {
                // A listener that could not bind (its port taken) is not tried again: the demo cannot serve.
                throw new NodeStartupException("demo: this node cannot serve the demo: " + string.Join("; ", readiness.Problems));
            }
        }

        throw new NodeStartupException("demo: this node's listeners were not open within 120 s of taking in the demo configuration; see its log");
    }

    private static async Task WaitForDemoAsync(SslClusterHandles h)
    {
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120); DateTime.UtcNow < deadline; await Task.Delay(500))
        {
            var copy = await h.ConfigFollower.Ask<ConfigFollowerActor.CurrentCopy>(ConfigFollowerActor.GetCopy.Instance, TimeSpan.FromSeconds(10));
            if (copy.Config.ProxyLists.ContainsKey("demo")) return;
        }
        throw new NodeStartupException("demo: the oldest node of the cluster did not create the demo configuration within 120 s; see its log");
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
