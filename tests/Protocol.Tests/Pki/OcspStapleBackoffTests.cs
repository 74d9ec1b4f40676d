using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

/// <summary>A failed OCSP fetch is tried again soon, then less and less often, never less often than every 5 minutes.</summary>
public sealed class OcspStapleBackoffTests
{
    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 4)]
    [InlineData(3, 8)]
    [InlineData(8, 256)]
    [InlineData(9, 300)]
    [InlineData(1000, 300)]
    public void FailureBackoff_NthFailureInARow_DoublesFromTwoSecondsUpToFiveMinutes(int failures, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), OcspStaple.FailureBackoff(failures));
    }
}
