using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

public sealed class ClusterSealTests : IDisposable
{
    private readonly MasterKey _master = MasterKey.CreateRandom();

    [Fact]
    public void Seal_Open_RoundTripsAndEachBlobIsDifferent()
    {
        var seal = new ClusterSeal(_master, "test v1");
        byte[] secret = [1, 2, 3, 4, 5, 6, 7, 8];

        var first = seal.Seal(secret, "aad"u8);
        var second = seal.Seal(secret, "aad"u8);

        Assert.NotEqual(first, second);
        Assert.Equal(first.Length, 16 + 12 + secret.Length + 16);
        Assert.Equal(secret, seal.Open(first, "aad"u8));
        Assert.Equal(secret, new ClusterSeal(_master, "test v1").Open(second, "aad"u8));
    }

    [Fact]
    public void Open_AnyByteChangedOtherAadOtherPurposeOrMasterKey_Null()
    {
        var seal = new ClusterSeal(_master, "test v1");
        var blob = seal.Seal([9, 9, 9], "aad"u8);
        using var other = MasterKey.CreateRandom();

        for (int i = 0; i < blob.Length; i++)
        {
            var damaged = (byte[])blob.Clone();
            damaged[i] ^= 0x80;
            Assert.Null(seal.Open(damaged, "aad"u8));
        }
        Assert.Null(seal.Open(blob, "other"u8));
        Assert.Null(new ClusterSeal(_master, "test v2").Open(blob, "aad"u8));
        Assert.Null(new ClusterSeal(other, "test v1").Open(blob, "aad"u8));
        Assert.Null(seal.Open(blob[..20], "aad"u8));
    }

    public void Dispose() => _master.Dispose();
}
