using SslCluster.Protocol.Config;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>A runtime's credentials are released once it is retired and its last connection has ended, and not before.</summary>
public sealed class RuntimeLeaseTests : IDisposable
{
    private readonly MasterKey _masterKey = MasterKey.CreateRandom();
    private readonly DataPlane _dataPlane;
    private readonly Dictionary<string, byte[]> _files;
    private readonly RuntimePlan _plan;

    public RuntimeLeaseTests()
    {
        var protector = new KeyProtector(_masterKey);
        var key = new KeyFactory(protector, TimeProvider.System).GenerateEcdsaP256("kfile", "pw");
        var cert = new CertificateFactory(protector, TimeProvider.System).CreateSelfSigned("cfile", key, key, "pw", new SubjectName("vip.test"), 30);
        _files = new Dictionary<string, byte[]> { ["kfile"] = key.Encode(), ["cfile"] = cert.Encode() };
        var result = ConfigParser.Parse("""
            ssl associate ecdsakey k kfile
            ssl associate cert c cfile
            ssl-proxy-list front
              ssl-server 1
              ssl-server 1 ecdsakey k
              ssl-server 1 ecdsacert c
              ssl-server 1 vip address 10.50.0.1
              ssl-server 1 cipher ecdhe-ecdsa-with-aes-128-gcm-sha256 10.50.0.2 80
              active
            service m
              type ssl-accel
              add ssl-proxy-list front
              active
            owner o
              content c
                vip address 10.50.0.1
                port 443
                add service m
                active
            """);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        _plan = RuntimePlan.Build(1, result.Config!);
        _dataPlane = new DataPlane(_masterKey, AddressMap.Parse(""), TimeSpan.FromSeconds(5));
    }

    public void Dispose()
    {
        _dataPlane.Dispose();
        _masterKey.Dispose();
    }

    [Fact]
    public void Retire_TwoRevisionsSharingACertificate_HeldUntilTheLastIsRetired()
    {
        var first = _dataPlane.Build(_plan, _plan.Listeners.Single(), _files);
        var second = _dataPlane.Build(_plan, _plan.Listeners.Single(), _files);
        Assert.Equal(1, _dataPlane.CredentialsHeld);

        first.Retire();
        Assert.Equal(1, _dataPlane.CredentialsHeld);
        second.Retire();

        Assert.Equal(0, _dataPlane.CredentialsHeld);
    }

    [Fact]
    public void Retire_ConnectionStillOpen_HeldUntilTheConnectionEnds()
    {
        var runtime = _dataPlane.Build(_plan, _plan.Listeners.Single(), _files);
        Assert.True(runtime.TryAcquire());

        runtime.Retire();
        Assert.Equal(1, _dataPlane.CredentialsHeld);
        Assert.False(_dataPlane.Build(_plan, _plan.Listeners.Single(), _files) is null);
        runtime.Release();

        // The runtime built meanwhile still holds the credential: only its own lease went.
        Assert.Equal(1, _dataPlane.CredentialsHeld);
        Assert.False(runtime.TryAcquire());
    }
}
