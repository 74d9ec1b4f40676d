using System.Text;
using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Config;
using Xunit;

namespace SslCluster.Protocol.Tests.Admin;

/// <summary>The tokens file, and what a read-only or a context's token may do.</summary>
public sealed class AdminAccessTests
{
    private const string Lab = "lab-admin-0123456789abcdef0123456789abcdef";
    private const string Ro = "read-only-0123456789abcdef0123456789abcdef";

    private static readonly AdminTokens Tokens = AdminTokens.Parse($"""
        # role        scope         token
        admin context lab {Lab}

        read-only {Ro}
        """, "admin-tokens");

    private static AdminPrincipal Who(string token) => Tokens.Find(Encoding.UTF8.GetBytes("Bearer " + token))!;

    [Fact]
    public void Parse_TwoTokens_EachFoundWithItsRoleAndContext()
    {
        Assert.Equal(2, Tokens.Count);
        Assert.Equal((AdminRole.Admin, "lab"), (Who(Lab).Role, Who(Lab).Context));
        Assert.Equal((AdminRole.ReadOnly, (string?)null), (Who(Ro).Role, Who(Ro).Context));
        Assert.Null(Tokens.Find(Encoding.UTF8.GetBytes("Bearer " + Lab[..^1])));
        Assert.Null(Tokens.Find(Encoding.UTF8.GetBytes(Lab)));
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef", "line 1: the first word is not a role")]
    [InlineData("admin short-token", "at least 32 characters")]
    [InlineData("admin context lab", "write 'ROLE [context NAME] TOKEN'")]
    [InlineData("admin 0123456789abcdef0123456789abcdef extra", "write 'ROLE [context NAME] TOKEN'")]
    [InlineData("admin 0123456789abcdef0123456789abcdef\nread-only 0123456789abcdef0123456789abcdef", "line 2: this token is already given")]
    [InlineData("admin 0123456789abcdef0123456789abcdef;rm", "letters, digits")]
    public void Parse_BadLine_RefusedNamingTheLine(string text, string fragment)
    {
        var e = Assert.Throws<FormatException>(() => AdminTokens.Parse(text, "admin-tokens"));

        Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", AdminPaths.RunningConfig, true, true)]
    [InlineData("POST", AdminPaths.Show, true, false)]
    [InlineData("POST", AdminPaths.SslProxy, true, true)]
    [InlineData("POST", AdminPaths.Configure, false, true)]
    [InlineData("POST", AdminPaths.SslCommand, false, false)]
    [InlineData("POST", AdminPaths.Drain, false, false)]
    [InlineData("GET", AdminPaths.Files, true, false)]
    [InlineData("GET", AdminPaths.Cluster, true, false)]
    public void Refusal_EachPath_ReadOnlyReadsAndContextTokenStaysInItsContext(string method, string path, bool readOnlyMay, bool labMay)
    {
        Assert.Equal(readOnlyMay, Who(Ro).Refusal(method, path) is null);
        Assert.Equal(labMay, Who(Lab).Refusal(method, path) is null);
        Assert.Null(AdminPrincipal.Node.Refusal(method, path));
    }

    [Fact]
    public void Sees_ContextToken_OnlyItsContextsModules()
    {
        var lab = Who(Lab);

        Assert.True(lab.Sees("s@lab"));
        Assert.False(lab.Sees("s@Default"));
        Assert.False(lab.Sees("m"));
    }
}
