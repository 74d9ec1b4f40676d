using Microsoft.Extensions.Time.Testing;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

public sealed class SessionTicketKeysTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void CurrentKey_NoKeyInstalled_NullAndCannotIssue()
    {
        var keys = new SessionTicketKeys(_time);

        Assert.False(keys.CanIssue);
        Assert.Null(keys.CurrentKey);
        Assert.Empty(keys.Keys);
    }

    [Fact]
    public void Install_SameKeysOnTwoNodes_BothEncryptWithTheSameKey()
    {
        var key = TicketKey.Create(_time.GetUtcNow(), TimeSpan.FromHours(1));
        var nodeA = new SessionTicketKeys(_time);
        var nodeB = new SessionTicketKeys(_time);

        Assert.Equal(1, nodeA.Install([key]));
        Assert.Equal(1, nodeB.Install([key]));
        Assert.Equal(0, nodeB.Install([key]));

        Assert.Equal(key, nodeA.CurrentKey);
        Assert.Equal(key, nodeB.CurrentKey);
        Assert.Equal(key.Secret, nodeB.CurrentKey!.Secret);
    }

    [Fact]
    public void Install_KeyOfWrongLength_RefusedAndNothingInstalled()
    {
        var keys = new SessionTicketKeys(_time);
        var good = TicketKey.Create(_time.GetUtcNow(), TimeSpan.FromHours(1));
        var bad = good with { Name = new byte[3] };

        Assert.Throws<ArgumentException>(() => keys.Install([good, bad]));
        Assert.Empty(keys.Keys);
    }

    [Fact]
    public void Rotation_NewKeyEncryptsOldKeyStillAcceptedUntilRetired()
    {
        var keys = new SessionTicketKeys(_time);
        var first = TicketKey.Create(_time.GetUtcNow(), TimeSpan.FromHours(1));
        keys.Install([first]);

        _time.Advance(TimeSpan.FromMinutes(50));
        var second = TicketKey.Create(_time.GetUtcNow(), TimeSpan.FromHours(1));
        Assert.Equal(1, keys.Install([first, second]));
        // The new key waits a few seconds (every node installs it first) while the old one still may encrypt.
        Assert.Equal(first, keys.CurrentKey);
        _time.Advance(SessionTicketKeys.ActivationDelay);

        Assert.Equal(second, keys.CurrentKey);
        Assert.Equal([second, first], keys.Keys);

        // The first key retires a ticket lifetime after its hour as the current key.
        _time.Advance(TicketKey.MaxTicketLifetime + TimeSpan.FromMinutes(10));
        Assert.Equal([second], keys.Keys);
    }

    [Fact]
    public void CanIssue_CurrentKeyPastItsRotation_False()
    {
        var keys = Keys();
        _time.Advance(TimeSpan.FromHours(1));

        Assert.False(keys.CanIssue);
        Assert.Null(keys.CurrentKey);
        Assert.Single(keys.Keys);
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
