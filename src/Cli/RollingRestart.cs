using System.Diagnostics;
using System.Globalization;
using SslCluster.Protocol.Admin;

namespace SslCluster.Cli;

/// <summary>
/// <c>sslctl cluster rolling-restart</c>: drains every member in turn and waits for its supervisor (Kubernetes, systemd,
/// <c>./run.sh --nodes N</c>) to start it again, before the next. Youngest first, oldest last, so the singletons (the
/// configuration store, the ticket keys) move once; when the member this command talks through comes up, its endpoint
/// is asked again once it is back. A member is back when a new incarnation at its address is up, holds the
/// configuration revision the others hold and serves it, every listener bound. Before each drain every member must be up and as many as at the start;
/// the command stops at the first member that does not come back, saying which.
/// </summary>
internal sealed class RollingRestart(TextWriter stdout, TimeProvider time)
{
    /// <summary>How long one member may take, beyond its drain timeout, to leave, start again and be ready.</summary>
    public TimeSpan PerMember { get; init; } = TimeSpan.FromMinutes(3);

    public TimeSpan Poll { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <param name="getCluster">GET /v1/cluster through the endpoint.</param>
    /// <param name="drain">POST /v1/cluster/drain through the endpoint.</param>
    public async Task<int> RunAsync(Func<Task<ClusterResponse>> getCluster, Func<ClusterMemberRequest, Task<DrainResponse>> drain)
    {
        var start = Healthy(await getCluster(), null);
        var order = start.Members.OrderByDescending(m => m.Age).ToList();
        var all = Stopwatch.StartNew();
        for (var i = 0; i < order.Count; i++)
        {
            var member = order[i];
            if (i > 0)
            {
                var now = Healthy(await getCluster(), order.Count);
                // The member as it is now: the one this command talks through may have a new incarnation since the start.
                member = now.Members.FirstOrDefault(m => m.Address == member.Address) ?? member;
            }
            var watch = Stopwatch.StartNew();
            var started = await drain(new ClusterMemberRequest(member.Address));
            await stdout.WriteLineAsync($"[{i + 1}/{order.Count}] {member.Address}: draining ({started.OpenConnections} open connection(s), up to {started.DrainTimeoutSeconds} s)");
            var limit = TimeSpan.FromSeconds(started.DrainTimeoutSeconds) + PerMember;
            var deadline = time.GetUtcNow() + limit;
            var left = false;
            ClusterMemberInfo? back = null;
            while (back is null)
            {
                if (time.GetUtcNow() > deadline)
                {
                    throw new NodeErrorException(left
                        ? $"{member.Address} left but did not come back within {limit.TotalSeconds:0} s: is it supervised (Kubernetes, systemd, run.sh)? The rolling restart stopped; {order.Count - i - 1} member(s) were not restarted"
                        : $"{member.Address} did not leave within {limit.TotalSeconds:0} s; the rolling restart stopped");
                }
                await Task.Delay(Poll, time);
                ClusterResponse now;
                try
                {
                    now = await getCluster();
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or NodeErrorException or IOException or System.Text.Json.JsonException)
                {
                    // The member this command talks through is away (its endpoint answers again once it is back), or a
                    // node was slow to answer while membership changed: ask again until the deadline.
                    left |= member.IsSelf;
                    continue;
                }
                var same = now.Members.FirstOrDefault(m => m.Address == member.Address);
                if (same is null || same.Uid != member.Uid)
                {
                    if (!left)
                        await stdout.WriteLineAsync($"[{i + 1}/{order.Count}] {member.Address}: left the cluster after {watch.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
                    left = true;
                }
                var revision = now.Members.Where(m => m.Address != member.Address).Select(m => m.Revision ?? 0).DefaultIfEmpty(0).Max();
                // Back: a new incarnation, up, holding the others' revision and serving it (every listener bound).
                if (same is { Status: "Up", Serving: true } && same.Uid != member.Uid && same.Revision >= revision)
                    back = same;
            }
            await stdout.WriteLineAsync($"[{i + 1}/{order.Count}] {member.Address}: back, up with revision {back.Revision}, {watch.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s after its drain began");
        }
        await stdout.WriteLineAsync($"rolling restart done: {order.Count} member(s) restarted in {all.Elapsed.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)} s");
        return ExitCodes.Ok;
    }

    /// <summary>The cluster, when every member is up (and, after the start, as many as then); else the reason to stop.</summary>
    private static ClusterResponse Healthy(ClusterResponse cluster, int? members)
    {
        var notUp = cluster.Members.Where(m => m.Status != "Up").ToList();
        if (notUp.Count > 0)
            throw new NodeErrorException($"not every member is up ({string.Join(", ", notUp.Select(m => $"{m.Address} {m.Status}"))}); a rolling restart goes on only from a healthy cluster");
        if (members is { } count && cluster.Members.Count != count)
            throw new NodeErrorException($"the cluster has {cluster.Members.Count} member(s), not the {count} it had when the rolling restart began; it stopped");
        return cluster;
    }
}
