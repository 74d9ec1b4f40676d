namespace SslCluster.Protocol.Tests.Pki;

/// <summary>
/// Keys, certificates and bundles made by the real openssl command line, the way an operator would bring them to
/// an import; made once per test class because DSA parameters and RSA keys take a moment.
/// </summary>
public sealed class OpenSslFiles : IDisposable
{
    public const string Password = "imp0rt pw";
    private readonly TempDirectory _directory = new();

    public OpenSslFiles()
    {
        try
        {
            Create();
        }
        catch
        {
            // xunit does not dispose a fixture whose constructor threw: remove the half-made directory here.
            _directory.Dispose();
            throw;
        }
    }

    public string Path(string name) => _directory.File(name);

    public string NewPath(string name) => _directory.File($"{Guid.NewGuid():N}-{name}");

    public void Dispose() => _directory.Dispose();

    private static void Run(params string[] arguments) => OpenSsl.Run(arguments);

    private void Create()
    {
        var pass = $"pass:{Password}";
        Run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", Path("rsa.key"));
        Run("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", Path("rsa.key"), "-passout", pass, "-out", Path("rsa-enc.key"));
        Run("rsa", "-in", Path("rsa.key"), "-traditional", "-out", Path("rsa-pkcs1.key"));
        Run("rsa", "-in", Path("rsa.key"), "-traditional", "-aes256", "-passout", pass, "-out", Path("rsa-legacy-enc.key"));
        Run("pkcs8", "-topk8", "-nocrypt", "-in", Path("rsa.key"), "-outform", "DER", "-out", Path("rsa.key.der"));
        Run("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", Path("rsa.key"), "-passout", pass, "-outform", "DER", "-out", Path("rsa-enc.key.der"));
        Run("ecparam", "-name", "prime256v1", "-genkey", "-out", Path("ec.key"));
        Run("ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", Path("p384.key"));
        Run("ec", "-in", Path("ec.key"), "-aes256", "-passout", pass, "-out", Path("ec-legacy-enc.key"));
        Run("ecparam", "-name", "secp256k1", "-genkey", "-noout", "-out", Path("k1.key"));
        Run("genpkey", "-algorithm", "ed25519", "-out", Path("ed25519.key"));
        Run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", Path("rsa1024.key"));
        Run("dsaparam", "-out", Path("dsa.params"), "1024");
        Run("gendsa", "-out", Path("dsa.key"), Path("dsa.params"));
        Run("dsa", "-in", Path("dsa.key"), "-out", Path("dsa-traditional.key"));
        Run("req", "-x509", "-key", Path("rsa.key"), "-subj", "/CN=imp.example.com", "-days", "30",
            "-addext", "subjectAltName=DNS:imp.example.com", "-out", Path("cert.pem"));
        Run("x509", "-in", Path("cert.pem"), "-outform", "DER", "-out", Path("cert.der"));
        Run("req", "-new", "-key", Path("rsa.key"), "-subj", "/CN=imp.example.com", "-out", Path("req.pem"));

        // A two-level chain: a CA and a leaf it signed, bundled with the leaf's key.
        Run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", Path("ca.key"), "-subj", "/CN=Test Root CA",
            "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", Path("ca.pem"));
        Run("req", "-new", "-key", Path("ec.key"), "-subj", "/CN=leaf.example.com", "-out", Path("leaf.csr"));
        File.WriteAllText(Path("leaf.ext"), "subjectAltName=DNS:leaf.example.com\nbasicConstraints=CA:FALSE\n");
        Run("x509", "-req", "-in", Path("leaf.csr"), "-CA", Path("ca.pem"), "-CAkey", Path("ca.key"), "-CAcreateserial",
            "-days", "30", "-extfile", Path("leaf.ext"), "-out", Path("leaf.pem"));
        Run("pkcs12", "-export", "-inkey", Path("ec.key"), "-in", Path("leaf.pem"), "-certfile", Path("ca.pem"),
            "-passout", pass, "-out", Path("bundle.p12"));
        File.WriteAllText(Path("combined.pem"), File.ReadAllText(Path("ca.pem")) + File.ReadAllText(Path("leaf.pem")) + File.ReadAllText(Path("ec.key")));
        File.WriteAllText(Path("mismatched.pem"), File.ReadAllText(Path("cert.pem")) + File.ReadAllText(Path("ec.key")));
    }
}
