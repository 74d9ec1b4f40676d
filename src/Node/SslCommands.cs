using System.Globalization;
using System.Text;
using Akka.Actor;
using SslCluster.Actors;
using SslCluster.Actors.ConfigStore;
using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using SslCluster.Protocol.Pki;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Node;

/// <summary>
/// The <c>ssl</c> exec palette of the reference (<c>ssl genrsa</c>, <c>ssl genecdsa</c>, <c>ssl gencsr</c>,
/// <c>ssl gencert</c>, <c>copy ssl ... import|export</c>): parses the words, runs the PKI, and stores the new files
/// through the configuration store so that every node sees them and the journal keeps them (keys sealed).
/// </summary>
internal sealed class SslCommands
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);

    private readonly IActorRef _store;
    private readonly SslClusterHandles _handles;
    private readonly KeyProtector _protector;
    private readonly KeyFactory _keys;
    private readonly CertificateFactory _certificates;
    private readonly CertStoreImporter _importer;
    private readonly CertStoreExporter _exporter;

    public SslCommands(SslClusterHandles handles, MasterKey masterKey, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(handles);
        _handles = handles;
        _store = handles.ConfigStore;
        _protector = new KeyProtector(masterKey);
        _keys = new KeyFactory(_protector, time);
        _certificates = new CertificateFactory(_protector, time);
        _importer = new CertStoreImporter(_protector, time);
        _exporter = new CertStoreExporter(_protector);
    }

    public static StoreFileInfo Describe(ReplicaFile f)
    {
        ArgumentNullException.ThrowIfNull(f);
        var file = CertStoreFile.DecodeShared(f.Content);
        return new StoreFileInfo(f.Name, file.Kind.ToString(), file.ToString());
    }

    public static StoredFileKind KindOf(CertStoreFile f) => f.Kind switch
    {
        CertStoreFileKind.RsaPrivateKey => StoredFileKind.RsaKey,
        CertStoreFileKind.EcPrivateKey => StoredFileKind.EcKey,
        _ => StoredFileKind.Certificate,
    };

    public async Task<SslCommandResponse> ExecuteAsync(IReadOnlyList<string> words)
    {
        try
        {
            return await RunAsync(words);
        }
        catch (PkiException e)
        {
            return new SslCommandResponse(false, e.Message);
        }
        catch (CommandException e)
        {
            return new SslCommandResponse(false, e.Message);
        }
    }

    private async Task<SslCommandResponse> RunAsync(IReadOnlyList<string> w)
    {
        if (w.Count >= 2 && w[0] == "copy" && w[1] == "ssl") return await CopyAsync(w);
        if (w.Count < 2 || w[0] != "ssl")
            throw new CommandException("write 'ssl genrsa|genecdsa|gencsr|gencert ...' or 'copy ssl file:PATH import|export ...'");
        switch (w[1].ToLowerInvariant())
        {
            case "genrsa":
                Need(w, 5, 5, "ssl genrsa NAME BITS \"PASSWORD\"");
                if (!int.TryParse(w[3], NumberStyles.None, CultureInfo.InvariantCulture, out var bits))
                    throw new CommandException($"'{w[3]}': the key length must be a number of bits: 2048, 3072 or 4096");
                return await StoreNewAsync(_keys.GenerateRsa(w[2], bits, w[4]), $"generated an RSA {bits}-bit key in file '{w[2]}'; associate it with 'ssl associate rsakey NAME {w[2]}'");
            case "genecdsa":
                Need(w, 4, 4, "ssl genecdsa NAME \"PASSWORD\"");
                return await StoreNewAsync(_keys.GenerateEcdsaP256(w[2], w[3]), $"generated an ECDSA P-256 key in file '{w[2]}'; associate it with 'ssl associate ecdsakey NAME {w[2]}'");
            case "gendsa":
                return new SslCommandResponse(false, KeyFactory.UnsupportedCommandMessage(UnsupportedKeyCommand.GenDsa));
            case "gendh":
                return new SslCommandResponse(false, KeyFactory.UnsupportedCommandMessage(UnsupportedKeyCommand.GenDh));
            case "gencsr":
            {
                Need(w, 3, 20, "ssl gencsr KEY [cn=NAME] [o=ORG] [ou=UNIT] [l=CITY] [st=STATE] [c=CC] [email=ADDR] [san=DNS,...]");
                var key = await KeyAsync(w[2]);
                var (subject, sans, _) = Subject(w.Skip(3), key.Name);
                return new SslCommandResponse(true, _certificates.CreateCsr(key, subject, sans));
            }
            case "gencert":
            {
                Need(w, 8, 30, "ssl gencert certkey KEY signkey KEY FILE \"PASSWORD\" [cn=NAME] [days=N] [san=DNS,...]");
                if (!w[2].Equals("certkey", StringComparison.OrdinalIgnoreCase) || !w[4].Equals("signkey", StringComparison.OrdinalIgnoreCase))
                    throw new CommandException("write 'ssl gencert certkey KEY signkey KEY FILE \"PASSWORD\"'");
                var certKey = await KeyAsync(w[3]);
                var signKey = await KeyAsync(w[5]);
                var (subject, sans, days) = Subject(w.Skip(8), w[6]);
                var cert = _certificates.CreateSelfSigned(w[6], certKey, signKey, w[7], subject, days, sans);
                return await StoreNewAsync(cert, $"generated a self-signed certificate in file '{w[6]}' (serial {cert.SerialNumber}, valid until {cert.NotAfter:yyyy-MM-dd}); associate it with 'ssl associate cert NAME {w[6]}'");
            }
            default:
                throw new CommandException($"unknown command 'ssl {w[1]}'{Suggest.DidYouMean(w[1], ["genrsa", "genecdsa", "gencsr", "gencert"])}");
        }
    }

    private async Task<SslCommandResponse> CopyAsync(IReadOnlyList<string> w)
    {
        Need(w, 6, 7, "copy ssl file:PATH import|export NAME pem|der|pkcs12 \"PASSWORD\"");
        if (!w[2].StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            throw new CommandException($"'{w[2]}': only file:PATH sources are supported (the node reads and writes its own file system); sftp/ftp records are not");
        var path = w[2][5..];
        var type = PkiFileTypes.Parse(w[5]);
        var password = w.Count == 7 ? w[6] : null;
        switch (w[3].ToLowerInvariant())
        {
            case "import":
            {
                var result = _importer.ImportFile(path, w[4], type, password);
                var lines = new StringBuilder();
                foreach (var f in result.Files)
                {
                    var stored = await _store.Ask<object>(new StoreFile(new StoredFile(f.Name, KindOf(f), f.Encode()), Replace: false), AskTimeout);
                    if (stored is FileRejected r) throw new CommandException(r.Reason);
                    lines.Append(CultureInfo.InvariantCulture, $"imported '{f.Name}': {f}\n");
                }
                foreach (var warning in result.Warnings) lines.Append("warning: ").Append(warning).Append('\n');
                return new SslCommandResponse(true, lines.ToString());
            }
            case "export":
            {
                var file = await FileAsync(w[4]);
                var bytes = _exporter.Export(file, type, password);
                await using (var f = PrivateFile.Create(path))
                {
                    await f.WriteAsync(bytes);
                }
                return new SslCommandResponse(true, $"exported '{file.Name}' to {path} ({type.ToText()})");
            }
            default:
                throw new CommandException($"'{w[3]}': write import or export");
        }
    }

    private async Task<SslCommandResponse> StoreNewAsync(CertStoreFile file, string done)
    {
        var reply = await _store.Ask<object>(new StoreFile(new StoredFile(file.Name, KindOf(file), file.Encode()), Replace: false), AskTimeout);
        return reply switch
        {
            FileStored => new SslCommandResponse(true, done),
            FileRejected r => new SslCommandResponse(false, r.Reason),
            _ => new SslCommandResponse(false, "unexpected answer from the configuration store"),
        };
    }

    private async Task<CertStoreFile> FileAsync(string name)
    {
        var (copy, _) = await ConfigReads.CurrentAsync(_handles);
        return copy.Files.TryGetValue(name, out var file)
            ? CertStoreFile.DecodeShared(file.Content)
            : throw new CommandException($"the certificate store has no file '{name}' (see 'show ssl files')");
    }

    /// <summary>A key named by its association (as the reference does after 'ssl associate') or by its file name.</summary>
    private async Task<CertStoreFile> KeyAsync(string name)
    {
        var (copy, _) = await ConfigReads.CurrentAsync(_handles);
        var file = copy.Config.Associations.TryGetValue(name, out var a) ? a.FileName : name;
        var key = await FileAsync(file);
        if (!key.IsPrivateKey) throw new CommandException($"'{name}' is a certificate, not a key");
        return key;
    }

    private static (SubjectName Subject, List<string> Sans, int Days) Subject(IEnumerable<string> options, string defaultCn)
    {
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var o in options)
        {
            var eq = o.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new CommandException($"'{o}': subject fields are written key=value (cn, o, ou, l, st, c, email, san, days)");
            fields[o[..eq]] = o[(eq + 1)..];
        }
        var known = new[] { "cn", "o", "ou", "l", "st", "c", "email", "san", "days" };
        foreach (var k in fields.Keys)
            if (!known.Contains(k, StringComparer.OrdinalIgnoreCase))
                throw new CommandException($"'{k}' is not a subject field{Suggest.DidYouMean(k, known)} (fields: {string.Join(", ", known)})");
        var subject = new SubjectName(fields.GetValueOrDefault("cn") ?? defaultCn)
        {
            Organization = fields.GetValueOrDefault("o"),
            OrganizationalUnit = fields.GetValueOrDefault("ou"),
            Locality = fields.GetValueOrDefault("l"),
            State = fields.GetValueOrDefault("st"),
            Country = fields.GetValueOrDefault("c"),
            Email = fields.GetValueOrDefault("email"),
        };
        var sans = fields.TryGetValue("san", out var s) ? s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList() : [];
        var days = 365;
        if (fields.TryGetValue("days", out var d) && !int.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out days))
            throw new CommandException($"days={d}: the validity is a whole number of days");
        return (subject, sans, days);
    }

    private static void Need(IReadOnlyList<string> w, int min, int max, string usage)
    {
        if (w.Count < min || w.Count > max) throw new CommandException($"write '{usage}'");
    }

    private sealed class CommandException(string message) : Exception(message);
}
