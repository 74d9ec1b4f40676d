using SslCluster.Protocol.Admin;
using Xunit;

namespace SslCluster.Protocol.Tests.Admin;

public sealed class SessionTableTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Print_WithKeys_CountsAndOneLinePerKeyCurrentMarked()
    {
        var text = SessionTable.Print(new SessionCacheResponse(12, 20000, true, 5, 7, 1, true, 4, 3, 2,
        [
            new TicketKeyInfo("aa11", At.AddHours(1), At.AddHours(3), At.AddHours(23), true),
            new TicketKeyInfo("bb22", At, At.AddHours(2), At.AddHours(22), false),
        ]));

        Assert.Contains("TLS 1.2 sessions on this node: 12 of 20000 (shared: every node", text, StringComparison.Ordinal);
        Assert.Contains("created here: 5   taken from other nodes: 7   refused copies: 1", text, StringComparison.Ordinal);
        Assert.Contains("issued here: 4   opened here: 3   refused: 2", text, StringComparison.Ordinal);
        Assert.Matches(@"aa11\s+2026-11-23 13:00:00\s+2026-11-23 15:00:00\s+2026-11-24 11:00:00\s+current\n", text);
        Assert.Matches(@"bb22\s+2026-11-23 12:00:00\s+2026-11-23 14:00:00\s+2026-11-24 10:00:00\n", text);
    }

    [Fact]
    public void Print_TicketsOff_SaysWhichSetting()
    {
        var text = SessionTable.Print(new SessionCacheResponse(0, 100, false, 0, 0, 0, false, 0, 0, 0, []));

        Assert.Contains("Session tickets: off (sslcluster.tls.session-tickets)", text, StringComparison.Ordinal);
        Assert.Contains("(kept on this node: remoting runs without TLS", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Print_NoKeyYet_SaysNoTicketsAreOffered()
    {
        var text = SessionTable.Print(new SessionCacheResponse(0, 100, false, 0, 0, 0, true, 0, 0, 0, []));

        Assert.Contains("no ticket key yet", text, StringComparison.Ordinal);
    }
}
