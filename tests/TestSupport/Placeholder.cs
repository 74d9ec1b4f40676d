namespace SslCluster.TestSupport; internal static class Placeholder { }
