using SslCluster.Node;

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
