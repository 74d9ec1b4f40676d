using System.Diagnostics;
using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

/// <summary>A clock that stands still, so created-at and validity dates are exact in assertions.</summary>
internal sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>A temporary directory removed at dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("pki-test-").FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Runs the real openssl command line, as an operator would, and returns what it printed.</summary>
internal static class OpenSsl
{
    public static (int ExitCode, string Output, string Error) TryRun(params string[] arguments)
    {
        var start = new ProcessStartInfo("openssl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill();
            throw new TimeoutException($"openssl {string.Join(' ', arguments)} did not finish in 60 s");
        }

        return (process.ExitCode, output.Result, error.Result);
    }

    public static string Run(params string[] arguments)
    {
        var (exitCode, output, error) = TryRun(arguments);
        Assert.True(exitCode == 0, $"openssl {string.Join(' ', arguments)} failed ({exitCode}): {error}{output}");
        return output + error;
    }
}

/// <summary>
/// One master key and a few generated keys for a test class; generating RSA keys and password verifiers costs
/// about a quarter of a second each, so classes share them.
/// </summary>
public sealed class PkiFixture : IDisposable
{
    public const string Password = "s3cret pass";

    public PkiFixture()
    {
        MasterKey = MasterKey.CreateRandom();
        Protector = new KeyProtector(MasterKey);
        Time = new FixedTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        Keys = new KeyFactory(Protector, TimeProvider.System);
        Certificates = new CertificateFactory(Protector, TimeProvider.System);
        Importer = new CertStoreImporter(Protector, TimeProvider.System);
        Exporter = new CertStoreExporter(Protector);
        RsaKey = Keys.GenerateRsa("rsa-key", 2048, Password);
        EcKey = Keys.GenerateEcdsaP256("ec-key", Password);
        RsaCertificate = Certificates.CreateSelfSigned("rsa-cert", RsaKey, RsaKey, Password, new SubjectName("www.example.com"), 365);
        EcCertificate = Certificates.CreateSelfSigned("ec-cert", EcKey, EcKey, Password, new SubjectName("ec.example.com"), 365);
    }

    public MasterKey MasterKey { get; }

    public KeyProtector Protector { get; }

    internal FixedTimeProvider Time { get; }

    public KeyFactory Keys { get; }

    public CertificateFactory Certificates { get; }

    public CertStoreImporter Importer { get; }

    public CertStoreExporter Exporter { get; }

    public CertStoreFile RsaKey { get; }

    public CertStoreFile EcKey { get; }

    public CertStoreFile RsaCertificate { get; }

    public CertStoreFile EcCertificate { get; }

    public void Dispose()
    {
        Protector.Dispose();
        MasterKey.Dispose();
    }
}
