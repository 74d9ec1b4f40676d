namespace SslCluster.Protocol; internal static class Placeholder { }
