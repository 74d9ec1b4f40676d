using Microsoft.Extensions.Time.Testing;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

public sealed class SessionTicketKeysTests
{
    private static readonly byte[] Session = [1, 3, 3, 0xC0, 0x2F, 1, 48, .. Enumerable.Range(0, 48).Select(i => (byte)i)];
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Seal_NoKeyInstalled_ReturnsNullAndCannotIssue()
    {
        var keys = new SessionTicketKeys(_time);

        Assert.False(keys.CanIssue);
        Assert.Null(keys.Seal("list/1", TimeSpan.FromMinutes(5), Session));
    }

    [Fact]
    public void TryOpen_TicketOfSameKeysOnAnotherNode_GivesTheSessionBack()
    {
        var key = TicketKey.Create(_time.GetUtcNow(), TimeSpan.FromHours(1));
        var nodeA = new SessionTicketKeys(_time);
        var nodeB = new SessionTicketKeys(_time);
        nodeA.Install([key]);
        nodeB.Install([key]);

        var ticket = nodeA.Seal("list/1", TimeSpan.FromMinutes(5), Session)!;

        Assert.True(nodeB.TryOpen(ticket, "list/1", out var session));
        Assert.Equal(Session, session);
        Assert.Equal(key.Name, ticket[..16]);
        Assert.Equal((1, 0, 0), (nodeA.Issued, nodeA.Opened, nodeA.Refused));
        Assert.Equal((0, 1, 0), (nodeB.Issued, nodeB.Opened, nodeB.Refused));
        Assert.Equal(key, nodeB.CurrentKey);
    }

    [Fact]
    public void TryOpen_OtherBindingKey_Refused()
    {
        var keys = Keys();
        var ticket = keys.Seal("list/1", TimeSpan.FromMinutes(5), Session)!;

        Assert.False(keys.TryOpen(ticket, "list/2", out var session));
        Assert.Empty(session);
        Assert.False(keys.TryOpen(ticket, "list/1|clientauth", out _));
        Assert.Equal(2, keys.Refused);
    }

    [Fact]
    public void TryOpen_AfterTicketLifetime_Refused()
    {
        var keys = Keys();
        var ticket = keys.Seal("list/1", TimeSpan.FromMinutes(5), Session)!;

        _time.Advance(TimeSpan.FromMinutes(4));
        Assert.True(keys.TryOpen(ticket, "list/1", out _));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(keys.TryOpen(ticket, "list/1", out _));
    }

    [Fact]
    public void TryOpen_AnyByteChanged_Refused()
    {
        var keys = Keys();
        var ticket = keys.Seal("list/1", TimeSpan.FromMinutes(5), Session)!;

        for (int i = 0; i < ticket.Length; i++)
        {
            var damaged = (byte[])ticket.Clone();
            damaged[i] ^= 0x01;
            Assert.False(keys.TryOpen(damaged, "list/1", out _), $"byte {i} flipped");
        }
        Assert.False(keys.TryOpen(ticket[..^1], "list/1", out _));
        Assert.False(keys.TryOpen([], "list/1", out _));
    }

    [Fact]
    public void TryOpen_KeyUnknownHere_Refused()
    {
        var issuer = Keys();
        var other = Keys();

        Assert.False(other.TryOpen(issuer.Seal("list/1", TimeSpan.FromMinutes(5), Session)!, "list/1", out _));
    }

    [Fact]
    public void Rotation_NewKeyEncryptsOldKeyStillOpensUntilRetired()
    {
        var keys = new SessionTicketKeys(_time);
        var first = TicketKey.Create(_time.GetUtcNow(), TimeSpan.FromHours(1));
        keys.Install([first]);
        var oldTicket = keys.Seal("list/1", TimeSpan.FromSeconds(72_000), Session)!;

        _time.Advance(TimeSpan.FromMinutes(50));
        var second = TicketKey.Create(_time.GetUtcNow(), TimeSpan.FromHours(1));
        Assert.Equal(1, keys.Install([first, second]));
        // The new key waits a few seconds (every node installs it first) while the old one still may encrypt.
        Assert.Equal(first.Name, keys.Seal("list/1", TimeSpan.FromMinutes(5), Session)![..16]);
        _time.Advance(SessionTicketKeys.ActivationDelay);
        var newTicket = keys.Seal("list/1", TimeSpan.FromMinutes(5), Session)!;

        Assert.Equal(second.Name, newTicket[..16]);
        Assert.True(keys.TryOpen(oldTicket, "list/1", out _));
        Assert.Equal(2, keys.Keys.Count);

        // The first key retires a ticket lifetime after its hour as the current key.
        _time.Advance(TicketKey.MaxTicketLifetime + TimeSpan.FromMinutes(10));
        Assert.Equal([second], keys.Keys);
        Assert.False(keys.TryOpen(oldTicket, "list/1", out _));
    }

    [Fact]
    public void CanIssue_CurrentKeyPastItsRotation_False()
    {
        var keys = Keys();
        _time.Advance(TimeSpan.FromHours(1));

        Assert.False(keys.CanIssue);
        Assert.Null(keys.Seal("list/1", TimeSpan.FromMinutes(5), Session));
    }

    [Fact]
    public void SealWith_OpenWithSameMasterKey_RoundTripsAndOtherMasterKeyFails()
    {
        using var master = MasterKey.CreateRandom();
        using var otherMaster = MasterKey.CreateRandom();
        var key = TicketKey.Create(_time.GetUtcNow(), TimeSpan.FromHours(1));

        var sealedKey = key.SealWith(new ClusterSeal(master, "ticket keys v1"));

        Assert.DoesNotContain(Convert.ToHexString(key.Secret), Convert.ToHexString(sealedKey.SealedSecret), StringComparison.Ordinal);
        var opened = TicketKey.Open(new ClusterSeal(master, "ticket keys v1"), sealedKey);
        Assert.NotNull(opened);
        Assert.Equal(key.Secret, opened.Secret);
        Assert.Null(TicketKey.Open(new ClusterSeal(otherMaster, "ticket keys v1"), sealedKey));
        Assert.Null(TicketKey.Open(new ClusterSeal(master, "ticket keys v1"), sealedKey with { EncryptUntil = key.EncryptUntil.AddDays(1) }));
    }

    [Fact]
    public void ToString_NeverShowsTheSecret()
    {
        var key = TicketKey.Create(_time.GetUtcNow(), TimeSpan.FromHours(1));

        Assert.DoesNotContain(Convert.ToHexStringLower(key.Secret), key.ToString(), StringComparison.Ordinal);
        Assert.Contains(key.NameHex, key.ToString(), StringComparison.Ordinal);
    }

    private SessionTicketKeys Keys()
    {
        var keys = new SessionTicketKeys(_time);
        keys.Install([TicketKey.Create(_time.GetUtcNow(), TimeSpan.FromHours(1))]);
        return keys;
    }
}
