using SslCluster.Node;

// Socket completions run on the socket engine's own thread instead of hopping to the thread pool: a proxy does a
// little work per completion (feed OpenSSL, send), and the hop (a context switch per read or write) cost half the
// CPU of a keep-alive request on one core (docs/benchmarks.md). Read once, when the first socket is made: so here,
// first. DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0 in the environment keeps the thread-pool hop.
if (Environment.GetEnvironmentVariable(InlineCompletions.Variable) is null)
{
    Environment.SetEnvironmentVariable(InlineCompletions.Variable, "1");
}

NodeOptions options;
try
{
    options = NodeOptions.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"sslnode: {e.Message}\n\n{NodeOptions.Usage}");
    return 2;
}
if (options.ShowHelp)
{
    Console.WriteLine(NodeOptions.Usage);
    return 0;
}
try
{
    return await NodeHost.RunAsync(options.Config);
}
catch (NodeStartupException e)
{
    await Console.Error.WriteLineAsync($"sslnode: {e.Message}");
    return 1;
}

internal static class InlineCompletions
{
    public const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
}
