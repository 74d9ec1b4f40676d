using Xunit;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Http;

namespace SslCluster.Protocol.Tests.Http;

/// <summary>Which Location values a rule rewrites, and into what.</summary>
public sealed class UrlRewriterTests
{
    [Theory]
    [InlineData("www.example.com", "http://www.example.com/a/b?c=d#e", "https://www.example.com/a/b?c=d#e")]
    [InlineData("www.example.com", "http://www.example.com", "https://www.example.com")]
    [InlineData("www.example.com", "http://www.example.com?q=1", "https://www.example.com?q=1")]
    [InlineData("www.example.com", "http://www.example.com:80/p", "https://www.example.com/p")]
    [InlineData("www.example.com", "http://www.example.com:/p", "https://www.example.com/p")]
    [InlineData("www.example.com", "HTTP://WWW.Example.COM/p", "https://WWW.Example.COM/p")]
    [InlineData("WWW.EXAMPLE.COM", "http://www.example.com/", "https://www.example.com/")]
    [InlineData("*.example.com", "http://shop.eu.example.com/x", "https://shop.eu.example.com/x")]
    [InlineData("www.example.*", "http://www.example.co.uk/", "https://www.example.co.uk/")]
    [InlineData("www.*.com", "http://www.example.com/", "https://www.example.com/")]
    [InlineData("*", "http://10.0.0.5/", "https://10.0.0.5/")]
    public void Rewrite_MatchingHostOnClearPort_BecomesHttps(string pattern, string location, string expected)
    {
        var rewriter = new UrlRewriter([new UrlRewriteRule(1, pattern)]);

        Assert.Equal(expected, rewriter.Rewrite(location));
    }

    [Theory]
    [InlineData("*.example.com", "http://example.com/")]
    [InlineData("www.example.com", "http://www.example.com.evil.net/")]
    [InlineData("www.example.com", "http://wwwXexample.com/")]
    [InlineData("www.example.*", "http://www.example/")]
    [InlineData("www.example.com", "http://www.example.com:8080/")]
    [InlineData("www.example.com", "https://www.example.com/")]
    [InlineData("www.example.com", "/relative/path")]
    [InlineData("www.example.com", "//www.example.com/scheme-relative")]
    [InlineData("www.example.com", "ftp://www.example.com/")]
    [InlineData("www.example.com", "http://user:pw@www.example.com/")]
    [InlineData("www.example.com", "http://www.example.com:80x/")]
    [InlineData("www.example.com", "http://www.example.com:99999/")]
    [InlineData("*", "http://[::1]/")]
    [InlineData("*", "http:///no-host")]
    [InlineData("*", "http://")]
    [InlineData("*", "")]
    public void Rewrite_NoRuleApplies_ReturnsNull(string pattern, string location)
    {
        var rewriter = new UrlRewriter([new UrlRewriteRule(1, pattern)]);

        Assert.Null(rewriter.Rewrite(location));
    }

    [Fact]
    public void Rewrite_SslPortAndClearPort_OnlyThatClearPortAndNewPortWritten()
    {
        var rewriter = new UrlRewriter([new UrlRewriteRule(1, "app.example.com", SslPort: 8443, ClearPort: 8080)]);

        Assert.Equal("https://app.example.com:8443/x", rewriter.Rewrite("http://app.example.com:8080/x"));
        Assert.Null(rewriter.Rewrite("http://app.example.com/x"));
        Assert.Null(rewriter.Rewrite("http://app.example.com:80/x"));
    }

    [Fact]
    public void Rewrite_SeveralRulesMatch_LowestNumberWins()
    {
        var rewriter = new UrlRewriter([new UrlRewriteRule(9, "*", SslPort: 9443), new UrlRewriteRule(2, "www.example.com", SslPort: 8443)]);

        Assert.Equal("https://www.example.com:8443/", rewriter.Rewrite("http://www.example.com/"));
        Assert.Equal("https://other.org:9443/", rewriter.Rewrite("http://other.org/"));
    }

    [Fact]
    public void For_SslServerWithoutRules_HasNoRules()
    {
        var server = new SslServer(1);

        Assert.False(UrlRewriter.For(server).HasRules);
        Assert.True(UrlRewriter.For(server with { UrlRewrites = server.UrlRewrites.SetItem(1, new UrlRewriteRule(1, "a")) }).HasRules);
    }
}
