using System.Diagnostics;
using System.Globalization;
using SslCluster.Protocol.Admin;

namespace SslCluster.Cli;

/// <summary>
/// <c>sslctl cluster rolling-restart</c>: drains every member in turn and waits for its supervisor (Kubernetes, systemd,
/// <c>./run.sh --nodes N</c>) to start it again, before the next. The youngest member goes first and the oldest
/// last, so the singletons (the configuration store, the ticket keys) move once; the member this command talks
/// through goes last of all, and its endpoint is asked again once it is back. A member is back when a new incarnation
/// at its address is up and holds the configuration revision the cluster holds. Nothing is drained while any member is
/// not up, and the command stops at the first member that does not come back, saying which.
/// </summary>
internal sealed class RollingRestart(TextWriter stdout, TimeProvider time)
{
    /// <summary>How long one member may take to drain, leave, start again and be ready.</summary>
    public TimeSpan PerMember { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan Poll { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <param name="getCluster">GET /v1/cluster through the endpoint.</param>
    /// <param name="drain">POST /v1/cluster/drain through the endpoint.</param>
    public async Task<int> RunAsync(Func<Task<ClusterResponse>> getCluster, Func<ClusterDrainRequest, Task<DrainResponse>> drain)
    {
        var start = await getCluster();
        var notUp = start.Members.Where(m => m.Status != "Up").ToList();
        if (notUp.Count > 0)
            throw new NodeErrorException($"not every member is up ({string.Join(", ", notUp.Select(m => $"{m.Address} {m.Status}"))}); a rolling restart starts from a healthy cluster");
        var order = start.Members.Where(m => !m.IsSelf).OrderByDescending(m => m.Age)
            .Concat(start.Members.Where(m => m.IsSelf)).ToList();
        var all = Stopwatch.StartNew();
        for (var i = 0; i < order.Count; i++)
        {
            var member = order[i];
            var watch = Stopwatch.StartNew();
            var started = await drain(new ClusterDrainRequest(member.Address));
            await stdout.WriteLineAsync($"[{i + 1}/{order.Count}] {member.Address}: draining ({started.OpenConnections} open connection(s), up to {started.DrainTimeoutSeconds} s)");
            var deadline = time.GetUtcNow() + PerMember;
            var left = false;
            ClusterMemberInfo? back = null;
            while (back is null)
            {
                if (time.GetUtcNow() > deadline)
                {
                    throw new NodeErrorException(left
                        ? $"{member.Address} left but did not come back within {PerMember.TotalSeconds:0} s: is it supervised (Kubernetes, systemd, run.sh)? The rolling restart stopped; {order.Count - i - 1} member(s) were not restarted"
                        : $"{member.Address} did not leave within {PerMember.TotalSeconds:0} s; the rolling restart stopped");
                }
                await Task.Delay(Poll, time);
                ClusterResponse now;
                try
                {
                    now = await getCluster();
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or NodeErrorException)
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
                if (same is { Status: "Up" } && same.Uid != member.Uid && same.Revision >= revision)
                    back = same;
            }
            await stdout.WriteLineAsync($"[{i + 1}/{order.Count}] {member.Address}: back, up with revision {back.Revision}, {watch.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s after its drain began");
        }
        await stdout.WriteLineAsync($"rolling restart done: {order.Count} member(s) restarted in {all.Elapsed.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)} s");
        return ExitCodes.Ok;
    }
}
