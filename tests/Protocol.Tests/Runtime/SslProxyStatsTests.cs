using SslCluster.Protocol.Config;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Runtime;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// The SSLM statistics: the totals a row carries between nodes, their sums, what <c>clear ssl-proxy stats</c> clears
/// and keeps, and the text of <c>show ssl-proxy stats</c> and <c>show ssl-proxy service</c>.
/// </summary>
public sealed class SslProxyStatsTests
{
    private static FlowCounters Busy()
    {
        var c = new FlowCounters();
        for (var i = 0; i < 5; i++) c.Accept();
        c.HandshakeCompleted(resumed: false);
        c.HandshakeCompleted(resumed: true);
        c.HandshakeCompleted(resumed: false);
        c.Closed(handshakeDone: true, 100, 2000);
        c.Outcome(ProxyError.None);
        c.Closed(handshakeDone: false, 0, 0);
        c.Outcome(ProxyError.ClientHandshakeTimeout);
        c.ClientAuth(new ClientAuthOutcome(ClientAuthResult.Verified, "CN=alice", "CN=ca", "01", "verified") { Revocation = RevocationMethod.Ocsp });
        c.ClientAuth(new ClientAuthOutcome(ClientAuthResult.Revoked, "CN=mallory", "CN=ca", "02", "revoked") { Revocation = RevocationMethod.Crl });
        return c;
    }

    [Fact]
    public void Snapshot_TwoNodesSummed_TotalsAddByName()
    {
        var a = Busy().Snapshot("127.0.0.1", 443);
        var b = Busy().Snapshot("127.0.0.1", 443);

        var sum = a.Plus(b);

        Assert.Equal(10, sum.Accepted);
        Assert.Equal(2, sum.Total(StatNames.Ended(ProxyError.ClientHandshakeTimeout)));
        Assert.Equal(2, sum.Total(StatNames.Auth(ClientAuthResult.Verified, RevocationMethod.Ocsp)));
        Assert.Equal(2, sum.Total(StatNames.Auth(ClientAuthResult.Revoked, RevocationMethod.Crl)));
        Assert.Equal(0, sum.Total(StatNames.Auth(ClientAuthResult.Revoked, RevocationMethod.Ocsp)));
        Assert.Null(new FlowCounters().Snapshot("127.0.0.1", 443).Totals);
    }

    [Fact]
    public void Clear_Ssl_HandshakeTotalsZeroAndTcpTotalsAndGaugesKept()
    {
        var c = Busy();

        c.Clear("ssl");

        var row = c.Snapshot("v", 1);
        Assert.Equal((0, 0, 0), (row.HandshakesCompleted, row.Resumed, row.HandshakesFailed));
        Assert.Equal(0, row.Total(StatNames.Ended(ProxyError.ClientHandshakeTimeout)));
        Assert.Equal(5, row.Accepted);
        Assert.Equal(1, row.Total(StatNames.Ended(ProxyError.None)));
        Assert.Equal(1, row.Total(StatNames.Auth(ClientAuthResult.Verified, RevocationMethod.Ocsp)));
        Assert.Equal((3, 2, 1), (row.TcpProxyFlows, row.ActiveSslFlows, row.InHandshake));
    }

    [Fact]
    public void Clear_All_EveryTotalZeroAndTheGaugesOfOpenConnectionsKept()
    {
        var registry = new FlowRegistry();
        var c = registry.For("m", "v", 1);
        c.Accept();
        c.HandshakeCompleted(false);
        c.ClientAuth(new ClientAuthOutcome(ClientAuthResult.Verified, "CN=alice", "CN=ca", "01", "verified"));

        Assert.Equal(1, registry.Clear());

        var row = registry.RowsOf("m").Single();
        Assert.Equal((0, 0, (IReadOnlyDictionary<string, long>?)null), (row.Accepted, row.HandshakesCompleted, row.Totals));
        Assert.Equal((1, 1), (row.TcpProxyFlows, row.ActiveSslFlows));
    }

    [Fact]
    public void Stats_Pki_CountsEachResultUnderTheRevocationCheckThatDecided()
    {
        var text = SslProxyStats.Stats([new ModuleFlows("m", null, [Busy().Snapshot("v", 1)])], "pki", ["node-a"]);

        Assert.Contains("1 node (node-a)", text, StringComparison.Ordinal);
        Assert.Matches(@"Verified \(none\)\s+1\s+0\s+0\s+0\s+1", text);
        Assert.Matches(@"Revoked \(Cert Revoked\)\s+0\s+1\s+0\s+0\s+1", text);
        Assert.DoesNotContain("TCP Statistics", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Stats_All_TcpAndSslFiguresOfTheRows()
    {
        var text = SslProxyStats.Stats([new ModuleFlows("m", null, [Busy().Snapshot("v", 1), Busy().Snapshot("w", 2)])], null, ["a", "b"]);

        Assert.Matches(@"conns accepted\s+: 10\b", text);
        Assert.Matches(@"full handshakes\s+: 4\b", text);
        Assert.Matches(@"resumed handshakes\s+: 2\b", text);
        Assert.Matches(@"handshake timeouts\s+: 2\b", text);
        Assert.Contains("HTTP Header Insertion Statistics:", text, StringComparison.Ordinal);
        Assert.Contains("TCP-SSL Interface Statistics:", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Stats_UnknownCategory_RefusedWithTheCategories()
    {
        var e = Assert.Throws<ArgumentException>(() => SslProxyStats.Stats([], "tpc", []));

        Assert.Contains("did you mean 'tcp'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Service_ByNameAndContext_ItsConfigurationAndTheCountersOfItsModule()
    {
        var config = ConfigParser.Parse("""
            ssl-proxy context Default
             service web client
              virtual ipaddr 127.0.0.40 protocol tcp port 80
              server ipaddr 127.0.0.41 protocol tcp port 443
              inservice
            ssl-proxy context lab
             service web client
              virtual ipaddr 127.0.0.42 protocol tcp port 80
              server ipaddr 127.0.0.43 protocol tcp port 443
            """).Config!;
        var flows = new[] { new ModuleFlows("web@Default", null, [Busy().Snapshot("127.0.0.40", 80)]) };

        var list = SslProxyStats.Service(config, flows, null);
        var ambiguous = SslProxyStats.Service(config, flows, "web");
        var one = SslProxyStats.Service(config, flows, "web@Default");

        Assert.Matches(@"web\s+Default\s+client\s+127\.0\.0\.40:80\s+127\.0\.0\.41:443\s+up\s+3", list);
        Assert.Matches(@"web\s+lab\s+client\s+127\.0\.0\.42:80\s+127\.0\.0\.43:443\s+down \(no inservice\)\s+0", list);
        Assert.StartsWith("%% service 'web' is in contexts Default, lab", ambiguous, StringComparison.Ordinal);
        Assert.Contains("Server verification: none (no trusted-ca)", one, StringComparison.Ordinal);
        Assert.Matches(@"conns accepted\s+: 5\b", one);
        Assert.DoesNotContain("PKI Statistics", one, StringComparison.Ordinal);
        Assert.StartsWith("%% no SSL proxy service 'wbe'", SslProxyStats.Service(config, flows, "wbe"), StringComparison.Ordinal);
    }
}
