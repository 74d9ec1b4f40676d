using System.Runtime.Versioning;

[assembly: SupportedOSPlatform("linux")]

namespace SslCluster.Node;

/// <summary>Files only the node's user may read: the admin token, the demo key password, exported keys.</summary>
internal static class PrivateFile
{
    /// <summary>Creates the file with mode 0600 from the start (never world-readable, even for a moment); fails if it exists.</summary>
    public static FileStream Create(string path) => new(path, new FileStreamOptions
    {
        Mode = FileMode.CreateNew,
        Access = FileAccess.Write,
        UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
    });

    public static async Task WriteTextAsync(string path, string text)
    {
        await using var f = Create(path);
        await using var w = new StreamWriter(f);
        await w.WriteAsync(text);
    }
}
