namespace SslCluster.Actors.Serialization;

/// <summary>
/// Splits a list that one message could not carry into parts that each stay below a byte budget, far under Akka's
/// remoting frame: each part holds at least one item, and items keep their order.
/// </summary>
public static class FrameParts
{
    public static IEnumerable<IReadOnlyList<T>> Split<T>(IEnumerable<T> items, Func<T, int> weight, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(weight);
        var part = new List<T>();
        var bytes = 0;
        foreach (var item in items)
        {
            var size = weight(item);
            if (part.Count > 0 && bytes + size > maxBytes)
            {
                yield return part;
                part = [];
                bytes = 0;
            }
            part.Add(item);
            bytes += size;
        }
        if (part.Count > 0) yield return part;
    }
}
