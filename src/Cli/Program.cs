using SslCluster.Cli;

return await SslCtl.RunAsync(args, Console.In, Console.Out, Console.Error);
