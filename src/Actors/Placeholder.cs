namespace SslCluster.Actors; internal static class Placeholder { }
