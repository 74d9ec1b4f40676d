using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;

namespace SslCluster.Actors.Serialization;

/// <summary>
/// Serializes every <see cref="IClusterMessage"/> as UTF-8 JSON with a short, stable manifest: the type's name inside
/// the SslCluster.Actors assembly. Stable manifests matter because the journal keeps events for years: renaming a
/// namespace must not orphan them. Unknown manifests throw <see cref="SerializationException"/>, as Akka expects.
/// </summary>
public sealed class ClusterMessageSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Our own identifier; Akka reserves 0-40.</summary>
    public const int Id = 7411;

    private readonly JsonSerializerOptions _json = new()
    {
        IncludeFields = false,
        WriteIndented = false,
        Converters = { new ActorRefConverter(system) },
    };

    private static readonly ConcurrentDictionary<string, Type> ByManifest = new(
        typeof(IClusterMessage).Assembly.GetTypes()
            .Where(t => typeof(IClusterMessage).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => new KeyValuePair<string, Type>(ManifestOf(t), t)));

    public override int Identifier => Id;

    private static string ManifestOf(Type t) => t.FullName!.Replace("SslCluster.Actors.", string.Empty, StringComparison.Ordinal);

    public override string Manifest(object o) => ManifestOf(o.GetType());

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), _json);

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!ByManifest.TryGetValue(manifest, out var type))
            throw new SerializationException($"ClusterMessageSerializer: unknown manifest '{manifest}' (a message from a newer or older version?)");
        return JsonSerializer.Deserialize(bytes, type, _json)
            ?? throw new SerializationException($"ClusterMessageSerializer: '{manifest}' deserialized to null");
    }

    /// <summary>The manifests this serializer knows; a test checks every message type round-trips.</summary>
    internal static IReadOnlyCollection<Type> KnownTypes => ByManifest.Values.ToList();

    internal static Assembly MessageAssembly => typeof(IClusterMessage).Assembly;

    /// <summary>Actor references travel as their full remote path and resolve on the receiving system.</summary>
    private sealed class ActorRefConverter(ExtendedActorSystem system) : System.Text.Json.Serialization.JsonConverter<IActorRef>
    {
        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var path = reader.GetString();
            return string.IsNullOrEmpty(path) ? ActorRefs.Nobody : system.Provider.ResolveActorRef(path);
        }

        // Nobody has no resolvable path ("akka://all-systems/"): it travels as "" and comes back as Nobody.
        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value is Nobody or null ? string.Empty : Akka.Serialization.Serialization.SerializedActorPath(value));
    }
}
