using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace SslCluster.Integration.Tests;

/// <summary>A pod as the stand-in lists it: its labels, phase, IP and the port of its container named "management".</summary>
public sealed record StandInPod(string Name, string Namespace, IReadOnlyDictionary<string, string> Labels, string Phase, string? PodIp, int ManagementPort);

/// <summary>One list request the stand-in answered.</summary>
public sealed record PodListRequest(string Namespace, string LabelSelector, string? Authorization, int Status);

/// <summary>
/// The part of a Kubernetes API server that pod discovery uses, over HTTPS on loopback: <c>GET
/// /api/v1/namespaces/NS/pods?labelSelector=SEL</c> answered with a <c>v1 PodList</c> of the pods of that namespace
/// whose labels match the equality-based selector, as the real API server does. A request without the bearer token is
/// answered 401; while <see cref="Forbid"/> is set, or for another namespace than the one the service account may
/// read, 403 with the Status body the API server sends when RBAC denies <c>list pods</c>. No API server runs on this
/// machine; this stands in for it so that real node processes discover each other through the real client library.
/// </summary>
public sealed class KubernetesApiStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _token;
    private readonly string _allowedNamespace;

    private KubernetesApiStandIn(WebApplication app, string token, string allowedNamespace)
    {
        _app = app;
        _token = token;
        _allowedNamespace = allowedNamespace;
    }

    /// <summary>Every pod the API knows, in every namespace; replaced whole to change what it lists.</summary>
    public IReadOnlyList<StandInPod> Pods { get; set; } = [];

    /// <summary>Answer every list with 403, as without the Role and RoleBinding of k8s/base/rbac.yaml.</summary>
    public bool Forbid { get; set; }

    /// <summary>The requests answered, oldest first.</summary>
    public ConcurrentQueue<PodListRequest> Requests { get; } = new();

    public int Port { get; private set; }

    public static async Task<KubernetesApiStandIn> StartAsync(X509Certificate2 certificate, string token, string allowedNamespace)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l =>
        {
            l.Protocols = HttpProtocols.Http1AndHttp2;
            l.UseHttps(certificate);
        }));
        var app = builder.Build();
        var standIn = new KubernetesApiStandIn(app, token, allowedNamespace);
        app.MapGet("/api/v1/namespaces/{ns}/pods", (HttpContext http, string ns) => standIn.ListPods(http, ns));
        await app.StartAsync();
        standIn.Port = new Uri(app.Urls.Single()).Port;
        return standIn;
    }

    private IResult ListPods(HttpContext http, string ns)
    {
        var selector = http.Request.Query["labelSelector"].ToString();
        var authorization = http.Request.Headers.Authorization.ToString();
        int status;
        IResult result;
        if (authorization != "Bearer " + _token)
        {
            status = 401;
            result = Results.Json(StatusBody(401, "Unauthorized", "Unauthorized"), statusCode: 401);
        }
        else if (Forbid || ns != _allowedNamespace)
        {
            status = 403;
            result = Results.Json(StatusBody(403, "Forbidden",
                $"pods is forbidden: User \"system:serviceaccount:{_allowedNamespace}:sslcluster\" cannot list resource \"pods\" in API group \"\" in the namespace \"{ns}\""), statusCode: 403);
        }
        else
        {
            status = 200;
            var wanted = ParseSelector(selector);
            var items = Pods.Where(p => p.Namespace == ns && wanted.All(w => p.Labels.TryGetValue(w.Key, out var v) && v == w.Value)).Select(PodJson).ToList();
            result = Results.Json(new Dictionary<string, object?>
            {
                ["kind"] = "PodList",
                ["apiVersion"] = "v1",
                ["metadata"] = new Dictionary<string, object?> { ["resourceVersion"] = "1" },
                ["items"] = items,
            });
        }
        Requests.Enqueue(new PodListRequest(ns, selector, authorization.Length == 0 ? null : authorization, status));
        return result;
    }

    /// <summary>An equality-based selector (<c>k=v,k2==v2</c>); set-based selectors are not needed by discovery.</summary>
    private static Dictionary<string, string> ParseSelector(string selector)
    {
        var wanted = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var term in selector.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = term.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new InvalidOperationException($"the stand-in takes equality selectors only, not '{term}'");
            wanted[term[..eq]] = term[(eq + 1)..].TrimStart('=');
        }
        return wanted;
    }

    private static Dictionary<string, object?> StatusBody(int code, string reason, string message) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new Dictionary<string, object?>(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["details"] = new Dictionary<string, object?> { ["kind"] = "pods" },
        ["code"] = code,
    };

    private static Dictionary<string, object?> PodJson(StandInPod pod)
    {
        var running = pod.Phase == "Running";
        return new Dictionary<string, object?>
        {
            ["metadata"] = new Dictionary<string, object?>
            {
                ["name"] = pod.Name,
                ["namespace"] = pod.Namespace,
                ["uid"] = Guid.NewGuid().ToString(),
                ["labels"] = pod.Labels,
            },
            ["spec"] = new Dictionary<string, object?>
            {
                ["containers"] = new[]
                {
                    new Dictionary<string, object?>
                    {
                        ["name"] = "sslnode",
                        ["image"] = "sslcluster:test",
                        ["ports"] = new[]
                        {
                            new Dictionary<string, object?> { ["name"] = "vip-https", ["containerPort"] = 8443, ["protocol"] = "TCP" },
                            new Dictionary<string, object?> { ["name"] = "management", ["containerPort"] = pod.ManagementPort, ["protocol"] = "TCP" },
                        },
                    },
                },
            },
            ["status"] = new Dictionary<string, object?>
            {
                ["phase"] = pod.Phase,
                ["podIP"] = pod.PodIp,
                ["containerStatuses"] = new[]
                {
                    new Dictionary<string, object?>
                    {
                        ["name"] = "sslnode",
                        ["image"] = "sslcluster:test",
                        ["imageID"] = "",
                        ["ready"] = running,
                        ["restartCount"] = 0,
                        ["state"] = running
                            ? new Dictionary<string, object?> { ["running"] = new Dictionary<string, object?> { ["startedAt"] = DateTime.UtcNow.ToString("O") } }
                            : new Dictionary<string, object?> { ["waiting"] = new Dictionary<string, object?> { ["reason"] = "ContainerCreating" } },
                    },
                },
            },
        };
    }

    /// <summary>A kubeconfig naming this server and trusting <paramref name="caPemPath"/>: how a process outside a pod
    /// gives the client library the API's CA (inside a pod it reads the service account's ca.crt).</summary>
    public string WriteKubeconfig(string folder, string caPemPath)
    {
        var path = Path.Combine(folder, "kubeconfig");
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: stand-in
              cluster:
                server: https://127.0.0.1:{Port}
                certificate-authority: {caPemPath}
            users:
            - name: sslcluster
              user:
                token: {_token}
            contexts:
            - name: stand-in
              context:
                cluster: stand-in
                user: sslcluster
                namespace: {_allowedNamespace}
            current-context: stand-in
            """);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    internal static string Describe(IEnumerable<PodListRequest> requests) => JsonSerializer.Serialize(requests.ToList());
}
