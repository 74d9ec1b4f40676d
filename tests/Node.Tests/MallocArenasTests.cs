using SslCluster.Node;
using Xunit;

namespace SslCluster.Node.Tests;

public sealed class MallocArenasTests
{
    [Theory]
    [InlineData("2", "; malloc arenas 2")]
    [InlineData("16", "; malloc arenas 16")]
    public void MallocArenas_PositiveNumber_SaysTheLimit(string value, string expected)
    {
        Assert.Equal(expected, NodeHost.MallocArenas(value));
    }

    [Fact]
    public void MallocArenas_Unset_SaysTheDefaultAndWhatTwoWouldSave()
    {
        var line = NodeHost.MallocArenas(null);

        Assert.Contains("the C library's default", line, StringComparison.Ordinal);
        Assert.Contains("MALLOC_ARENA_MAX=2", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("default")]
    [InlineData("0")]
    public void MallocArenas_NotAPositiveNumber_SaysGlibcIgnoresIt(string value)
    {
        Assert.Equal($"; malloc arenas: the C library's default (MALLOC_ARENA_MAX '{value}' is not a positive number, which glibc ignores)",
            NodeHost.MallocArenas(value));
    }
}
