using System.Security.Cryptography.X509Certificates;
using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

public sealed class SubjectAltNamesTests
{
    [Fact]
    public void Build_NoEntriesAndIpAddressCn_IpAddressEntry()
    {
        var extension = (X509SubjectAlternativeNameExtension)SubjectAltNames.Build(null, "192.0.2.1")!;

        Assert.Equal("192.0.2.1", Assert.Single(extension.EnumerateIPAddresses()).ToString());
        Assert.Empty(extension.EnumerateDnsNames());
    }

    [Fact]
    public void Build_DuplicatesInAnyCase_KeptOnce()
    {
        var extension = (X509SubjectAlternativeNameExtension)SubjectAltNames.Build(["a.example", "A.EXAMPLE", "::1"], "x")!;

        Assert.Equal(["a.example"], extension.EnumerateDnsNames());
        Assert.Equal("::1", Assert.Single(extension.EnumerateIPAddresses()).ToString());
    }

    [Fact]
    public void Build_TooManyEntries_Throws()
    {
        var names = Enumerable.Range(0, 101).Select(i => $"h{i}.example").ToList();

        var error = Assert.Throws<PkiException>(() => SubjectAltNames.Build(names, "x"));

        Assert.Equal("101 subject alternative names given: the limit is 100", error.Message);
    }

    [Theory]
    [InlineData("*.example.com")]
    [InlineData("xn--bcher-kva.example")]
    [InlineData("a-b.c-d.example")]
    public void DnsNameProblem_ValidNames_Null(string name)
    {
        Assert.Null(SubjectAltNames.DnsNameProblem(name));
    }

    [Theory]
    [InlineData("pem", PkiFileType.Pem)]
    [InlineData("DER", PkiFileType.Der)]
    [InlineData("pkcs12", PkiFileType.Pkcs12)]
    [InlineData("pfx", PkiFileType.Pkcs12)]
    public void PkiFileTypesParse_KnownSpellings_Type(string text, PkiFileType expected)
    {
        Assert.Equal(expected, PkiFileTypes.Parse(text));
    }

    [Fact]
    public void PkiFileTypesParse_Unknown_ThrowsListingTheTypes()
    {
        var error = Assert.Throws<PkiException>(() => PkiFileTypes.Parse("crt"));

        Assert.Equal("file type 'crt' is not one of pem, der, pkcs12", error.Message);
    }
}
