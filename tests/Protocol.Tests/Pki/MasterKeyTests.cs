using System.Runtime.Versioning;
using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

public sealed class MasterKeyTests
{
    [Fact]
    [UnsupportedOSPlatform("windows")]
    public void LoadOrCreate_FileMissing_CreatesBase64KeyFileWithMode0600()
    {
        using var directory = new TempDirectory();
        var path = directory.File("sub/master.key");

        using var key = MasterKey.LoadOrCreate(path);

        Assert.True(File.Exists(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(MasterKey.Length, Convert.FromBase64String(File.ReadAllText(path).Trim()).Length);
        Assert.Equal(key.ToBase64(), File.ReadAllText(path).Trim());
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void LoadOrCreate_FileExists_ReturnsTheSameKey()
    {
        using var directory = new TempDirectory();
        var path = directory.File("master.key");
        using var first = MasterKey.LoadOrCreate(path);

        using var second = MasterKey.LoadOrCreate(path);

        Assert.Equal(first.ToBase64(), second.ToBase64());
        Assert.Equal(first.KeyId, second.KeyId);
    }

    [Fact]
    public void FromBase64_EnvironmentValue_RoundTrips()
    {
        using var original = MasterKey.CreateRandom();

        using var copy = MasterKey.FromBase64(original.ToBase64() + "\n");

        Assert.Equal(original.KeyId, copy.KeyId);
    }

    [Fact]
    public void FromBase64_WrongLength_ThrowsSayingBothLengths()
    {
        var error = Assert.Throws<PkiException>(() => MasterKey.FromBase64(Convert.ToBase64String(new byte[16])));

        Assert.Equal(PkiErrorCode.MasterKeyInvalid, error.Code);
        Assert.Contains("decodes to 16 bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("exactly 32 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromBase64_NotBase64_ThrowsNotBase64()
    {
        var error = Assert.Throws<PkiException>(() => MasterKey.FromBase64("this is not base64!"));

        Assert.Equal(PkiErrorCode.MasterKeyInvalid, error.Code);
        Assert.Contains("is not base64 text", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_EmptyFile_ThrowsNamingTheFile()
    {
        using var directory = new TempDirectory();
        var path = directory.File("master.key");
        File.WriteAllText(path, "\n");

        var error = Assert.Throws<PkiException>(() => MasterKey.LoadOrCreate(path));

        Assert.Equal(PkiErrorCode.MasterKeyInvalid, error.Code);
        Assert.Equal($"master key file '{path}' is empty: it must hold 32 random bytes in base64 (44 characters)", error.Message);
    }

    [Fact]
    public void Load_PathIsDirectory_ThrowsUnreadable()
    {
        using var directory = new TempDirectory();

        var error = Assert.Throws<PkiException>(() => MasterKey.Load(directory.Path));

        Assert.Equal(PkiErrorCode.MasterKeyInvalid, error.Code);
        Assert.StartsWith($"master key file '{directory.Path}' cannot be read", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyId_DifferentKeys_Differ()
    {
        using var a = MasterKey.CreateRandom();
        using var b = MasterKey.CreateRandom();

        Assert.Matches("^[0-9a-f]{8}$", a.KeyId);
        Assert.NotEqual(a.KeyId, b.KeyId);
    }
}
