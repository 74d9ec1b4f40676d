using SslCluster.Actors.Sessions;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Actors.Tests;

public sealed class TicketKeyRingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Rotate_AddsNewestFirstAndDropsRetired()
    {
        var ring = TicketKeyRing.Empty.Rotate(T0, TimeSpan.FromHours(1));
        var first = ring.Keys[0];

        ring = ring.Rotate(T0.AddHours(1), TimeSpan.FromHours(1));
        Assert.Equal(2, ring.Keys.Count);
        Assert.Equal(first, ring.Keys[1]);

        ring = ring.Rotate(first.AcceptUntil, TimeSpan.FromHours(1));
        Assert.DoesNotContain(first, ring.Keys);
    }

    [Fact]
    public void Adopt_KeysOfAnEarlierOwner_KeptNewestFirstWithoutDuplicatesOrRetired()
    {
        var old = TicketKey.Create(T0, TimeSpan.FromHours(2));
        var retired = TicketKey.Create(T0.AddDays(-3), TimeSpan.FromHours(2));
        var newer = TicketKey.Create(T0.AddHours(1), TimeSpan.FromHours(2));

        var ring = TicketKeyRing.Empty.Adopt([old, retired, newer, old], T0.AddHours(1));

        Assert.Equal([newer, old], ring.Keys);
    }
}
