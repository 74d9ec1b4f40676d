using SslCluster.Protocol.Admin;
using Xunit;

namespace SslCluster.Protocol.Tests.Admin;

/// <summary>Which open connections <c>show connections</c> lists: the filters, and a context token's own modules.</summary>
public sealed class ConnectionsRequestTests
{
    [Theory]
    [InlineData("ssl2", "127.0.0.9:50000", true)]
    [InlineData("ssl20", "127.0.0.9:50000", false)]
    [InlineData("o/ssl2", "127.0.0.9:50000", true)]
    [InlineData("ssl2", "127.0.0.99:50000", false)]
    [InlineData("ssl2", "127.0.0.9", true)]
    [InlineData("ssl2", null, false)]
    public void Matches_ModuleAndClient_ByNameAndAddressWithOrWithoutPort(string owner, string? client, bool expected) =>
        Assert.Equal(expected, new ConnectionsRequest(Module: "ssl2", Client: "127.0.0.9").Matches(owner, client));

    [Fact]
    public void Matches_IPv6Client_MatchesTheBracketedAddress() =>
        Assert.True(new ConnectionsRequest(Client: "::1").Matches("m", "[::1]:443"));

    [Theory]
    [InlineData("web@lab", true)]
    [InlineData("OWNER/cli@lab", true)]
    [InlineData("web@prod", false)]
    [InlineData("ssl2", false)]
    public void Matches_ContextToken_ItsContextsModulesAlone(string owner, bool expected) =>
        Assert.Equal(expected, new ConnectionsRequest(Context: "lab").Matches(owner, "127.0.0.1:1"));

    [Fact]
    public void Matches_NoFilter_Everything() =>
        Assert.True(new ConnectionsRequest().Matches("anything", null));
}
