using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

// Usage: RuntimeCounters PID [SECONDS]. One line per counter per second: "HH:mm:ss name value"
// (Mean for gauges, Increment for rates such as gen-0-gc-count, per second). CPU usage is relative to the cores the
// process may use (one, when it is pinned with taskset).
if (args.Length is < 1 or > 2 || !int.TryParse(args[0], CultureInfo.InvariantCulture, out var pid))
{
    await Console.Error.WriteLineAsync("usage: RuntimeCounters PID [SECONDS]");
    return 2;
}

var seconds = args.Length == 2 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
var client = new DiagnosticsClient(pid);
var providers = new[]
{
    new EventPipeProvider("System.Runtime", EventLevel.Informational, 0,
        new Dictionary<string, string> { ["EventCounterIntervalSec"] = "1" }),
};
using var session = client.StartEventPipeSession(providers, requestRundown: false);
using var source = new EventPipeEventSource(session.EventStream);
source.Dynamic.All += e =>
{
    if (e.EventName != "EventCounters" || e.PayloadValue(0) is not IDictionary<string, object> outer
        || outer["Payload"] is not IDictionary<string, object> payload)
    {
        return;
    }

    var value = payload.TryGetValue("Mean", out var mean) ? mean : payload["Increment"];
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{DateTime.Now:HH:mm:ss} {payload["Name"]} {value}"));
};
var processing = Task.Run(source.Process);
await Task.Delay(TimeSpan.FromSeconds(seconds));
await session.StopAsync(CancellationToken.None);
await processing;
return 0;
