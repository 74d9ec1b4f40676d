using System.Collections;
using System.Collections.Immutable;

namespace SslCluster.Protocol.Config;

/// <summary>
/// An immutable map keyed by name with value equality: two configurations that hold the same entries are equal,
/// which is what "show running-config parses back to an equal model" needs. Keys compare ordinally (CSS names are
/// case-sensitive) and enumerate in sorted order so that printing is deterministic.
/// </summary>
public sealed class ValueMap<TKey, TValue> : IEquatable<ValueMap<TKey, TValue>>, IReadOnlyCollection<KeyValuePair<TKey, TValue>>
    where TKey : notnull
{
    private readonly ImmutableSortedDictionary<TKey, TValue> _items;

    public static ValueMap<TKey, TValue> Empty { get; } = new(ImmutableSortedDictionary<TKey, TValue>.Empty);

    private ValueMap(ImmutableSortedDictionary<TKey, TValue> items) => _items = items;

    public int Count => _items.Count;

    public IEnumerable<TValue> Values => _items.Values;

    public IEnumerable<TKey> Keys => _items.Keys;

    public TValue this[TKey key] => _items[key];

    public bool ContainsKey(TKey key) => _items.ContainsKey(key);

    public bool TryGetValue(TKey key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out TValue value) =>
        _items.TryGetValue(key, out value);

    public TValue? GetValueOrDefault(TKey key) => _items.TryGetValue(key, out var v) ? v : default;

    public ValueMap<TKey, TValue> SetItem(TKey key, TValue value) => new(_items.SetItem(key, value));

    public ValueMap<TKey, TValue> Remove(TKey key) => new(_items.Remove(key));

    public bool Equals(ValueMap<TKey, TValue>? other)
    {
        if (other is null) return false;
        if (ReferenceEquals(this, other)) return true;
        if (other.Count != Count) return false;
        var comparer = EqualityComparer<TValue>.Default;
        foreach (var (k, v) in _items)
        {
            if (!other._items.TryGetValue(k, out var ov) || !comparer.Equals(v, ov)) return false;
        }
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as ValueMap<TKey, TValue>);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var (k, v) in _items)
        {
            hash.Add(k);
            hash.Add(v);
        }
        return hash.ToHashCode();
    }

    public IEnumerator<KeyValuePair<TKey, TValue>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>An immutable list with value equality; order is significant (the order services were added, say).</summary>
public sealed class ValueList<T> : IEquatable<ValueList<T>>, IReadOnlyList<T>
{
    private readonly ImmutableArray<T> _items;

    public static ValueList<T> Empty { get; } = new(ImmutableArray<T>.Empty);

    public ValueList(ImmutableArray<T> items) => _items = items;

    public ValueList(IEnumerable<T> items) => _items = items.ToImmutableArray();

    public int Count => _items.Length;

    public T this[int index] => _items[index];

    public ValueList<T> Add(T item) => new(_items.Add(item));

    public ValueList<T> Remove(T item) => new(_items.Remove(item));

    public ValueList<T> RemoveAll(Predicate<T> match) => new(_items.RemoveAll(match));

    public ValueList<T> SetItem(int index, T item) => new(_items.SetItem(index, item));

    public bool Contains(T item) => _items.Contains(item);

    public int IndexOf(T item) => _items.IndexOf(item);

    public bool Equals(ValueList<T>? other) =>
        other is not null && (ReferenceEquals(this, other) || _items.SequenceEqual(other._items));

    public override bool Equals(object? obj) => Equals(obj as ValueList<T>);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in _items) hash.Add(item);
        return hash.ToHashCode();
    }

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
