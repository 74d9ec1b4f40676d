using System.Globalization;
using System.Text;

namespace SslCluster.Protocol.Admin;

/// <summary>The text of <c>show ssl sessions</c>: one node's session cache and ticket keys.</summary>
public static class SessionTable
{
    public static string Print(SessionCacheResponse s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var o = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        o.Append(c, $"TLS 1.2 sessions on this node: {s.Held} of {s.Capacity} ");
        o.Append(s.Shared
            ? "(shared: every node holds the sessions of all nodes, and the ticket keys are the cluster's)\n"
            : "(kept on this node: remoting runs without TLS, see sslcluster.tls.share-sessions-without-remoting-tls)\n");
        o.Append(c, $"  created here: {s.Created}   taken from other nodes: {s.FromPeers}   refused copies: {s.Refused}\n");
        if (!s.TicketsEnabled)
        {
            o.Append("Session tickets: off (sslcluster.tls.session-tickets)\n");
            return o.ToString();
        }
        o.Append(c, $"Session tickets: issued here: {s.TicketsIssued}   opened here: {s.TicketsOpened}   refused: {s.TicketsRefused}\n");
        if (s.TicketKeys.Count == 0)
        {
            o.Append("  no ticket key yet: the cluster's ticket-key owner has not answered; no tickets are offered meanwhile\n");
            return o.ToString();
        }
        o.Append(c, $"  {"key name",-32}  {"created (UTC)",-19}  {"encrypts until",-19}  {"opens until",-19}\n");
        foreach (var k in s.TicketKeys)
        {
            o.Append(c, $"  {k.Name,-32}  {k.CreatedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}  {k.EncryptUntil.UtcDateTime:yyyy-MM-dd HH:mm:ss}  {k.AcceptUntil.UtcDateTime:yyyy-MM-dd HH:mm:ss}{(k.Current ? "  current" : "")}\n");
        }
        return o.ToString();
    }
}
