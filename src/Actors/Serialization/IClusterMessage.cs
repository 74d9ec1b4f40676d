namespace SslCluster.Actors.Serialization;

/// <summary>
/// Marks every message that may cross the wire or reach the journal; bound to <see cref="ClusterMessageSerializer"/>
/// in reference.conf so that none of them falls back to Akka's default JSON serializer.
/// </summary>
public interface IClusterMessage;
