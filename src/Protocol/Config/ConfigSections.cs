using System.Security.Cryptography;
using System.Text;

namespace SslCluster.Protocol.Config;

/// <summary>
/// The configuration cut into its objects, each with the text <c>show running-config</c> prints for it: one section per
/// association, global keepalive, proxy list, service and owner (with its content rules). Sections are what the
/// configuration store sends between nodes: a revision travels as the sections it changed and the ones it removed,
/// never as the whole configuration, and a node rebuilds its model by parsing only the sections that changed.
/// </summary>
/// <remarks>
/// A key is the object's kind and name, <c>kind/name</c>; names may hold any character, so the kind ends at the first
/// slash. Every section parses on its own: the parser resolves no reference between objects (the validator does).
/// </remarks>
public static class ConfigSections
{
    public const string Association = "associate";
    public const string Keepalive = "keepalive";
    public const string ProxyList = "ssl-proxy-list";
    public const string Service = "service";
    public const string Owner = "owner";
    public const string Context = "ssl-proxy-context";
    public const string Trustpoint = "trustpoint";
    public const string CertificateMap = "certificate-map";

    public static string Key(string kind, string name) => kind + "/" + name;

    /// <summary>Every section of <paramref name="config"/>: key and printed text.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Split(RunningConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        foreach (var a in config.Associations.Values) yield return new(Key(Association, a.Name), ConfigPrinter.Object(a));
        foreach (var k in config.Keepalives.Values) yield return new(Key(Keepalive, k.Name), ConfigPrinter.Object(k));
        foreach (var l in config.ProxyLists.Values) yield return new(Key(ProxyList, l.Name), ConfigPrinter.Object(l));
        foreach (var s in config.Services.Values) yield return new(Key(Service, s.Name), ConfigPrinter.Object(s));
        foreach (var o in config.Owners.Values) yield return new(Key(Owner, o.Name), ConfigPrinter.Object(o));
        foreach (var t in config.Trustpoints.Values) yield return new(Key(Trustpoint, t.Name), ConfigPrinter.Object(t));
        foreach (var m in config.CertificateMaps.Values) yield return new(Key(CertificateMap, m.Name), ConfigPrinter.Object(m));
        foreach (var c in config.Contexts.Values) yield return new(Key(Context, c.Name), ConfigPrinter.Object(c));
    }

    /// <summary>
    /// What turns <paramref name="before"/> into <paramref name="after"/>: the sections added or changed (with their
    /// new text) and the keys of the sections removed. Objects the change did not touch are found by reference first
    /// (an applied change keeps the untouched records), so a small change to a big configuration costs little.
    /// </summary>
    public static (IReadOnlyList<KeyValuePair<string, string>> Changed, IReadOnlyList<string> Removed) Diff(RunningConfig before, RunningConfig after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var changed = new List<KeyValuePair<string, string>>();
        var removed = new List<string>();
        Compare(before.Associations, after.Associations, Association, ConfigPrinter.Object, changed, removed);
        Compare(before.Keepalives, after.Keepalives, Keepalive, ConfigPrinter.Object, changed, removed);
        Compare(before.ProxyLists, after.ProxyLists, ProxyList, ConfigPrinter.Object, changed, removed);
        Compare(before.Services, after.Services, Service, ConfigPrinter.Object, changed, removed);
        Compare(before.Owners, after.Owners, Owner, ConfigPrinter.Object, changed, removed);
        Compare(before.Trustpoints, after.Trustpoints, Trustpoint, ConfigPrinter.Object, changed, removed);
        Compare(before.CertificateMaps, after.CertificateMaps, CertificateMap, ConfigPrinter.Object, changed, removed);
        Compare(before.Contexts, after.Contexts, Context, ConfigPrinter.Object, changed, removed);
        return (changed, removed);
    }

    private static void Compare<T>(ValueMap<string, T> before, ValueMap<string, T> after, string kind, Func<T, string> print,
        List<KeyValuePair<string, string>> changed, List<string> removed)
        where T : class
    {
        if (ReferenceEquals(before, after)) return;
        foreach (var (name, value) in after)
        {
            if (before.TryGetValue(name, out var old) && (ReferenceEquals(old, value) || old.Equals(value))) continue;
            changed.Add(new(Key(kind, name), print(value)));
        }
        foreach (var name in before.Keys)
        {
            if (!after.ContainsKey(name)) removed.Add(Key(kind, name));
        }
    }

    /// <summary>
    /// <paramref name="config"/> with the object of section <paramref name="key"/> replaced by the one
    /// <paramref name="text"/> describes, or removed when <paramref name="text"/> is null.
    /// </summary>
    /// <exception cref="FormatException">The key names no kind of section, or the text does not describe exactly that object.</exception>
    public static RunningConfig With(RunningConfig config, string key, string? text)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(key);
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0) throw new FormatException($"'{key}' is not a configuration section key (kind/name)");
        var kind = key[..slash];
        var name = key[(slash + 1)..];
        var fragment = text is null ? null : ConfigParser.Reload(text);
        T One<T>(ValueMap<string, T> map)
        {
            if (map.Count != 1 || !map.TryGetValue(name, out var value))
                throw new FormatException($"section '{key}' does not describe exactly that object");
            return value;
        }
        return kind switch
        {
            Association => config with { Associations = fragment is null ? config.Associations.Remove(name) : config.Associations.SetItem(name, One(fragment.Associations)) },
            Keepalive => config with { Keepalives = fragment is null ? config.Keepalives.Remove(name) : config.Keepalives.SetItem(name, One(fragment.Keepalives)) },
            ProxyList => config with { ProxyLists = fragment is null ? config.ProxyLists.Remove(name) : config.ProxyLists.SetItem(name, One(fragment.ProxyLists)) },
            Service => config with { Services = fragment is null ? config.Services.Remove(name) : config.Services.SetItem(name, One(fragment.Services)) },
            Owner => config with { Owners = fragment is null ? config.Owners.Remove(name) : config.Owners.SetItem(name, One(fragment.Owners)) },
            Trustpoint => config with { Trustpoints = fragment is null ? config.Trustpoints.Remove(name) : config.Trustpoints.SetItem(name, One(fragment.Trustpoints)) },
            CertificateMap => config with { CertificateMaps = fragment is null ? config.CertificateMaps.Remove(name) : config.CertificateMaps.SetItem(name, One(fragment.CertificateMaps)) },
            Context => config with { Contexts = fragment is null ? config.Contexts.Remove(name) : config.Contexts.SetItem(name, One(fragment.Contexts)) },
            _ => throw new FormatException($"'{kind}' is not a kind of configuration section (section '{key}')"),
        };
    }

    /// <summary>The digest that names a section's text or a store file's bytes: SHA-256, lowercase hex.</summary>
    public static string Digest(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string Digest(string text) => Digest(Encoding.UTF8.GetBytes(text));
}
