using System.Net;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tests.Support;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>
/// Session IDs through ITlsSessionStore and tickets (TLS 1.2 and TLS 1.3) under SessionTicketKeys, checked with
/// openssl -sess_out / -sess_in.
/// </summary>
public sealed class SessionResumptionTests : IDisposable
{
    private const string Request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    private readonly string _sessionFile = Path.Combine(Path.GetTempPath(), "sslcluster-sess-" + Guid.NewGuid());

    [Fact]
    public async Task SClient_SessionIdReused_ResumesOnSameListener()
    {
        var store = new LocalTlsSessionStore(TimeProvider.System);
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), sessionStore: store);

        var first = await OpenSslClient.SClientAsync(harness.Port,
            $"-tls1_2 -no_ticket -sess_out {_sessionFile} -ign_eof", Request);
        var second = await OpenSslClient.SClientAsync(harness.Port,
            $"-tls1_2 -no_ticket -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("New, TLSv1.2", first.StandardOutput);
        Assert.Contains("Reused, TLSv1.2", second.AllOutput);
        Assert.Contains("hello from the backend", second.StandardOutput);
        var closed = await harness.Observer.WaitForClosedAsync(2);
        Assert.Equal([false, true], closed.OrderBy(s => s.ConnectionId).Select(s => s.Handshake!.Resumed));
        Assert.All(closed, s => Assert.Equal(ProxyError.None, s.Error));
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public async Task SClient_SessionFromOtherListenerWithSameBindingKey_Resumes()
    {
        // Two listeners (think: two nodes) sharing a store: the cluster-wide session cache in miniature.
        var store = new LocalTlsSessionStore(TimeProvider.System);
        await using var a = ProxyHarness.Start(new HttpTestBackend(), ecdsa: true, sessionStore: store,
            bindingKey: "ctx/list/100");
        await using var b = ProxyHarness.Start(new HttpTestBackend(), ecdsa: true, sessionStore: store,
            bindingKey: "ctx/list/100");

        await OpenSslClient.SClientAsync(a.Port, $"-tls1_2 -no_ticket -sess_out {_sessionFile} -ign_eof", Request);
        var resumed = await OpenSslClient.SClientAsync(b.Port,
            $"-tls1_2 -no_ticket -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("Reused, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256", resumed.AllOutput);
    }

    [Fact]
    public async Task SClient_SessionFromOtherBindingKey_IsNotResumed()
    {
        var store = new LocalTlsSessionStore(TimeProvider.System);
        await using var a = ProxyHarness.Start(new HttpTestBackend(), sessionStore: store, bindingKey: "ctx/list/100");
        await using var b = ProxyHarness.Start(new HttpTestBackend(), sessionStore: store, bindingKey: "ctx/list/200");

        await OpenSslClient.SClientAsync(a.Port, $"-tls1_2 -no_ticket -sess_out {_sessionFile} -ign_eof", Request);
        var second = await OpenSslClient.SClientAsync(b.Port,
            $"-tls1_2 -no_ticket -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("New, TLSv1.2", second.StandardOutput);
        Assert.DoesNotContain("Reused", second.AllOutput);
        Assert.Contains("hello from the backend", second.StandardOutput);
        var summary = Assert.Single(await b.Observer.WaitForClosedAsync(1));
        Assert.False(summary.Handshake!.Resumed);
        Assert.Equal(2, store.Count);
    }

    [Fact]
    public async Task SClient_StoreWithoutEntries_DoesFullHandshake()
    {
        var store = new LocalTlsSessionStore(TimeProvider.System);
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), sessionStore: store);
        await OpenSslClient.SClientAsync(harness.Port, $"-tls1_2 -no_ticket -sess_out {_sessionFile} -ign_eof",
            Request);
        await using var other = ProxyHarness.Start(new HttpTestBackend(),
            sessionStore: new LocalTlsSessionStore(TimeProvider.System));

        var second = await OpenSslClient.SClientAsync(other.Port,
            $"-tls1_2 -no_ticket -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("New, TLSv1.2", second.StandardOutput);
        Assert.Contains("hello from the backend", second.StandardOutput);
    }

    [Fact]
    public async Task SClient_TicketFromOtherListenerSharingTicketKeys_ResumesWithoutSessionStore()
    {
        // Two nodes in miniature: separate session stores (nothing replicated), the same ticket keys.
        var key = TicketKey.Create(DateTimeOffset.UtcNow, TimeSpan.FromHours(1));
        var ticketsA = new SessionTicketKeys(TimeProvider.System);
        var ticketsB = new SessionTicketKeys(TimeProvider.System);
        ticketsA.Install([key]);
        ticketsB.Install([key]);
        var storeA = new LocalTlsSessionStore(TimeProvider.System);
        await using var a = ProxyHarness.Start(new HttpTestBackend(), ecdsa: true,
            sessionStore: storeA, tickets: ticketsA, bindingKey: "list/100");
        var storeB = new LocalTlsSessionStore(TimeProvider.System);
        await using var b = ProxyHarness.Start(new HttpTestBackend(), ecdsa: true, sessionStore: storeB,
            tickets: ticketsB, bindingKey: "list/100");

        var first = await OpenSslClient.SClientAsync(a.Port, $"-tls1_2 -sess_out {_sessionFile} -ign_eof", Request);
        var resumed = await OpenSslClient.SClientAsync(b.Port, $"-tls1_2 -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("TLS session ticket lifetime hint: 300", first.StandardOutput);
        Assert.Contains("Reused, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256", resumed.AllOutput);
        Assert.Contains("hello from the backend", resumed.StandardOutput);
        var summary = Assert.Single(await b.Observer.WaitForClosedAsync(1));
        Assert.True(summary.Handshake!.Resumed);
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(0, storeB.Count);
        // A client given a ticket resumes with it: its session ID is not stored (nor copied to other nodes).
        Assert.Equal(0, storeA.Count);
    }

    [Fact]
    public async Task SClient_TicketOfOtherSslServer_FullHandshakeWithNewTicket()
    {
        var tickets = new SessionTicketKeys(TimeProvider.System);
        tickets.Install([TicketKey.Create(DateTimeOffset.UtcNow, TimeSpan.FromHours(1))]);
        await using var a = ProxyHarness.Start(new HttpTestBackend(), tickets: tickets, bindingKey: "list/100");
        await using var b = ProxyHarness.Start(new HttpTestBackend(), tickets: tickets, bindingKey: "list/200");

        await OpenSslClient.SClientAsync(a.Port, $"-tls1_2 -sess_out {_sessionFile} -ign_eof", Request);
        var second = await OpenSslClient.SClientAsync(b.Port, $"-tls1_2 -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("New, TLSv1.2", second.StandardOutput);
        Assert.DoesNotContain("Reused", second.AllOutput);
        Assert.Contains("TLS session ticket lifetime hint: 300", second.StandardOutput);
        Assert.Contains("hello from the backend", second.StandardOutput);
    }

    [Fact]
    public async Task SClient_TicketOfAKeyThisServerDoesNotHold_FullHandshake()
    {
        // Retirement itself is a unit test (SessionTicketKeysTests.Rotation_...): here the server never had the key.
        var issuing = new SessionTicketKeys(TimeProvider.System);
        issuing.Install([TicketKey.Create(DateTimeOffset.UtcNow, TimeSpan.FromHours(1))]);
        var rotatedAway = new SessionTicketKeys(TimeProvider.System);
        rotatedAway.Install([TicketKey.Create(DateTimeOffset.UtcNow, TimeSpan.FromHours(1))]);
        await using var a = ProxyHarness.Start(new HttpTestBackend(), tickets: issuing, bindingKey: "list/100");
        await using var b = ProxyHarness.Start(new HttpTestBackend(), tickets: rotatedAway, bindingKey: "list/100");

        await OpenSslClient.SClientAsync(a.Port, $"-tls1_2 -sess_out {_sessionFile} -ign_eof", Request);
        var second = await OpenSslClient.SClientAsync(b.Port, $"-tls1_2 -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("New, TLSv1.2", second.StandardOutput);
        Assert.Contains("hello from the backend", second.StandardOutput);
    }

    [Fact]
    public async Task SClient_Tls13TicketFromOtherListenerSharingTicketKeys_ResumesOnOpenSsl()
    {
        // Two nodes in miniature on the OpenSSL engine: nothing shared but the cluster's ticket key.
        var key = TicketKey.Create(DateTimeOffset.UtcNow, TimeSpan.FromHours(1));
        var ticketsA = new SessionTicketKeys(TimeProvider.System);
        var ticketsB = new SessionTicketKeys(TimeProvider.System);
        ticketsA.Install([key]);
        ticketsB.Install([key]);
        await using var a = ProxyHarness.Start(new HttpTestBackend(), tickets: ticketsA, bindingKey: "list/100");
        await using var b = ProxyHarness.Start(new HttpTestBackend(), tickets: ticketsB, bindingKey: "list/100");

        var first = await OpenSslClient.SClientAsync(a.Port, $"-tls1_3 -sess_out {_sessionFile} -ign_eof", Request);
        var resumed = await OpenSslClient.SClientAsync(b.Port, $"-tls1_3 -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("New, TLSv1.3", first.StandardOutput);
        Assert.Contains("TLS session ticket lifetime hint: 300", first.StandardOutput);
        Assert.Contains("Reused, TLSv1.3", resumed.AllOutput);
        Assert.Contains("hello from the backend", resumed.StandardOutput);
        var summary = Assert.Single(await b.Observer.WaitForClosedAsync(1));
        Assert.True(summary.Handshake!.Resumed);
        Assert.Equal(TlsVersion.Tls13, summary.Handshake.Version);
        Assert.True(ticketsA.Issued >= 1, $"node A issued {ticketsA.Issued} tickets");
        Assert.Equal(1, ticketsB.Opened);
        Assert.Equal(0, ticketsB.Refused);
    }

    [Theory]
    [InlineData("list/200", true)]
    [InlineData("list/100", false)]
    public async Task SClient_Tls13TicketOfOtherSslServerOrUnknownKey_FullHandshakeOnOpenSsl(string otherBinding, bool sameKey)
    {
        var issuing = new SessionTicketKeys(TimeProvider.System);
        issuing.Install([TicketKey.Create(DateTimeOffset.UtcNow, TimeSpan.FromHours(1))]);
        var other = issuing;
        if (!sameKey)
        {
            other = new SessionTicketKeys(TimeProvider.System);
            other.Install([TicketKey.Create(DateTimeOffset.UtcNow, TimeSpan.FromHours(1))]);
        }

        await using var a = ProxyHarness.Start(new HttpTestBackend(), tickets: issuing, bindingKey: "list/100");
        await using var b = ProxyHarness.Start(new HttpTestBackend(), tickets: other, bindingKey: otherBinding);

        await OpenSslClient.SClientAsync(a.Port, $"-tls1_3 -sess_out {_sessionFile} -ign_eof", Request);
        var second = await OpenSslClient.SClientAsync(b.Port, $"-tls1_3 -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("New, TLSv1.3", second.StandardOutput);
        Assert.DoesNotContain("Reused", second.AllOutput);
        Assert.Contains("hello from the backend", second.StandardOutput);
        var summary = Assert.Single(await b.Observer.WaitForClosedAsync(1));
        Assert.False(summary.Handshake!.Resumed);
    }

    [Fact]
    public async Task SClient_NoTicketKeys_NoTicketOffered()
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend(),
            tickets: new SessionTicketKeys(TimeProvider.System));

        var first = await OpenSslClient.SClientAsync(harness.Port, "-tls1_2 -ign_eof", Request);

        Assert.Contains("New, TLSv1.2", first.StandardOutput);
        Assert.DoesNotContain("TLS session ticket lifetime hint", first.StandardOutput);
        Assert.Contains("hello from the backend", first.StandardOutput);
    }

    [Fact]
    public async Task SClient_Tls12TicketResumedWithASessionIdOfTheClientsChoosing_NoSessionIdentity()
    {
        var tickets = new SessionTicketKeys(TimeProvider.System);
        tickets.Install([TicketKey.Create(DateTimeOffset.UtcNow, TimeSpan.FromHours(1))]);
        var store = new LocalTlsSessionStore(TimeProvider.System);
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), sessionStore: store, tickets: tickets);
        await OpenSslClient.SClientAsync(harness.Port, $"-tls1_2 -sess_out {_sessionFile} -ign_eof", Request);

        // The saved session's ID (DER: OCTET STRING of 32 bytes after the version and cipher) becomes DEADBEEF1111...:
        // a TLS 1.2 client offering a ticket sends whatever ID it likes, and OpenSSL copies it into the session.
        var der = Convert.FromBase64String(string.Concat(File.ReadAllLines(_sessionFile).Where(l => !l.StartsWith("-----", StringComparison.Ordinal))));
        var at = Enumerable.Range(0, der.Length - 38).First(i => der[i] == 0x04 && der[i + 1] == 0x02 && der[i + 4] == 0x04 && der[i + 5] == 0x20) + 6;
        byte[] chosen = [0xDE, 0xAD, 0xBE, 0xEF, .. Enumerable.Repeat((byte)0x11, 28)];
        chosen.CopyTo(der, at);
        File.WriteAllText(_sessionFile, "-----BEGIN SSL SESSION PARAMETERS-----\n" + Convert.ToBase64String(der, Base64FormattingOptions.InsertLineBreaks) +
            "\n-----END SSL SESSION PARAMETERS-----\n");
        var resumed = await OpenSslClient.SClientAsync(harness.Port, $"-tls1_2 -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("Reused, TLSv1.2", resumed.StandardOutput);
        var summaries = (await harness.Observer.WaitForClosedAsync(2)).OrderBy(s => s.ConnectionId).ToList();
        // A full handshake that issues a TLS 1.2 ticket has no session ID (OpenSSL sends an empty one then).
        Assert.False(summaries[0].Handshake!.Resumed);
        Assert.Null(summaries[0].Handshake!.SessionIdentity);
        Assert.True(summaries[1].Handshake!.Resumed);
        Assert.Equal("DEADBEEF" + string.Concat(Enumerable.Repeat("11", 28)), summaries[1].Handshake!.SessionId);
        Assert.Null(summaries[1].Handshake!.SessionIdentity);
    }

    public void Dispose()
    {
        File.Delete(_sessionFile);
    }
}
