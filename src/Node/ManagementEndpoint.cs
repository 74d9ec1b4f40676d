using System.Collections.Immutable;
using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using Akka.Management.Dsl;
using SslCluster.Actors;
using SslCluster.Protocol.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace SslCluster.Node;

/// <summary>
/// The contact point of Akka Cluster Bootstrap: <c>GET /bootstrap/seed-nodes</c>, what Akka.Management's own HTTP
/// server would serve, on Kestrel. Akka.Management 1.5.73 serves its routes through Akka.Http.Shim, which was built
/// against Ceen.Httpd 0.9.9; the registry holds only 0.9.10, whose <c>ListenAsync</c> changed its signature, so
/// <c>AkkaManagement.Start()</c> fails with MissingMethodException. Akka documents serving the bootstrap routes
/// yourself: <see cref="ClusterBootstrap.Routes"/> records the self contact point, and the answer is built from the
/// package's own JSON types, so the probing side (Akka's <c>HttpContactPointBootstrap</c>) reads it unchanged.
/// Unauthenticated and read-only, like Akka's: it tells a node's cluster address and up to five members. The same
/// port serves the open endpoints of the admin endpoint (/healthz, /readyz, /metrics) on the node's own address, for
/// Kubernetes' probes and Prometheus.
/// </summary>
internal static class ManagementEndpoint
{
    /// <summary>Serves the route on the configured management host and port and starts the bootstrap.</summary>
    public static async Task<WebApplication> StartAsync(SslClusterHandles h, DataPlane dataPlane)
    {
        var system = h.System;
        var config = system.Settings.Config;
        var host = config.GetString("akka.management.http.hostname");
        var port = config.GetInt("akka.management.http.port");
        if (!IPAddress.TryParse(host.Trim('[', ']'), out var address))
            throw new NodeStartupException($"cluster bootstrap: the management host must be an IP address (the one discovery gives for this node), not '{host}'");
        var maxSeeds = config.GetInt("akka.management.cluster.bootstrap.contact-point.max-seed-nodes-to-expose", 5);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(address, port));
        var app = builder.Build();
        var cluster = Cluster.Get(system);
        app.MapGet("/bootstrap/seed-nodes", () => Results.Text(SeedNodesJson(cluster, maxSeeds), "application/json"));
        AdminEndpoint.MapOpenEndpoints(app, h, dataPlane);
        try
        {
            await app.StartAsync();
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new NodeStartupException($"cannot open the management endpoint for cluster bootstrap on {host}:{port}: {e.Message}");
        }

        var method = config.GetString("akka.management.cluster.bootstrap.contact-point-discovery.discovery-method");
        var self = new Uri($"http://{(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString())}:{port}");
        try
        {
            var bootstrap = ClusterBootstrap.Get(system);
            bootstrap.Routes(ManagementRouteProviderSettings.Create(self, readOnly: true));
            await bootstrap.Start();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await app.DisposeAsync();
            throw new NodeStartupException($"cluster bootstrap could not start ({method} discovery): {e.GetBaseException().Message}");
        }
        // Which pods Kubernetes discovery asks for, so that a node waiting for contact points says what it waits for.
        var pods = method == "kubernetes-api" ? $" (pods labelled {config.GetString("akka.discovery.kubernetes-api.pod-label-selector")}, port 'management')" : "";
        NodeLog.Info($"sslnode: cluster bootstrap: contact point {self}, discovery {method}{pods}, " +
            $"{config.GetInt("akka.management.cluster.bootstrap.contact-point-discovery.required-contact-point-nr")} contact point(s) required to form a cluster");
        return app;
    }

    /// <summary>
    /// What Akka.Management answers: this node's address, and the members that are up, weakly up or joining and
    /// reachable; none while this node is leaving or gone, so that a restarting peer never joins through it.
    /// </summary>
    internal static string SeedNodesJson(Cluster cluster, int maxSeeds)
    {
        var self = cluster.SelfMember;
        if (self.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Leaving or MemberStatus.Removed)
            return Newtonsoft.Json.JsonConvert.SerializeObject(new HttpBootstrapJsonProtocol.SeedNodes(self.UniqueAddress.Address, []));
        var state = cluster.State;
        var members = state.Members
            .Where(m => !state.Unreachable.Contains(m))
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
            .Take(maxSeeds)
            .Select(m => new HttpBootstrapJsonProtocol.ClusterMember(m.UniqueAddress.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
            .ToImmutableList();
        return Newtonsoft.Json.JsonConvert.SerializeObject(new HttpBootstrapJsonProtocol.SeedNodes(self.UniqueAddress.Address, members));
    }
}
