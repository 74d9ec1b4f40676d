using SslCluster.Protocol.Config;
using Xunit;

namespace SslCluster.Protocol.Tests.Config;

/// <summary>
/// The SSL Services Module 3.1 configuration face: the release notes' samples load as written and print back in the
/// same face; every command and its errors; references checked by the validator.
/// </summary>
public sealed class SslmConfigTests
{
    /// <summary>Release notes OL-9138, Table 3, the 3.1 column, as the module prints it.</summary>
    private const string Table3 = """
        ssl-proxy context Default
         maxconns 65536
        !
         service s2 client
          virtual ipaddr 10.10.0.15 protocol tcp port 80
          server ipaddr 10.0.207.203 protocol tcp port 443
          nat client n1
          authenticate verify all
          inservice
        !
        crypto pki trustpoint tp1
         revocation-check none
        !
        crypto pki certificate chain tp1
         certificate 10 nvram:ca-root#10.cer
         certificate ca 01 nvram:ca-root#01.cer
        !
        interface SSL-Proxy0.2
         encapsulation dot1q 2
         ip address 10.122.0.6 255.0.0.0
        !
        ip route 0.0.0.0 255.255.255.0 207.0.100.1
        """;

    private static RunningConfig Parsed(string text)
    {
        var result = ConfigParser.Parse(text);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Config!;
    }

    private static ConfigDiagnostic OnlyError(string text)
    {
        var result = ConfigParser.Parse(text);
        Assert.False(result.Succeeded);
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void Parse_ReleaseNotesTable3_LoadsAsWrittenWithTheHardwareLinesNotApplicable()
    {
        var result = ConfigParser.Parse(Table3);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        var context = result.Config!.Contexts["Default"];
        Assert.Equal(65536, context.MaxConns);
        var s2 = context.Services["s2"];
        Assert.True(s2.Client && s2.InService);
        Assert.Equal(new SslmEndpoint("10.10.0.15", 80), s2.Virtual);
        Assert.Equal(new SslmEndpoint("10.0.207.203", 443), s2.Server);
        Assert.Equal(("n1", SslmVerify.All), (s2.NatClient, s2.Verify));
        var tp1 = result.Config.Trustpoints["tp1"];
        Assert.Equal([RevocationMethod.None], tp1.Revocation);
        Assert.Equal([new PkiChainCertificate("10", false, "nvram:ca-root#10.cer"), new PkiChainCertificate("01", true, "nvram:ca-root#01.cer")], tp1.Chain);
        Assert.Equal(4, result.Diagnostics.Count(d => d.Severity == DiagnosticSeverity.NotApplicable));
        Assert.Contains(result.Warnings, w => w.Message.Contains("NAT pool 'n1'", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_ChainSerialCa_CaFlagOnlyBeforeASerialAndLeadingZeroForTheSerial()
    {
        var config = Parsed("crypto pki trustpoint t\ncrypto pki certificate chain t\n certificate 0CA nvram:leaf\n certificate ca CA nvram:root\n");

        Assert.Equal([new PkiChainCertificate("0CA", false, "nvram:leaf"), new PkiChainCertificate("CA", true, "nvram:root")], config.Trustpoints["t"].Chain);
        var printed = ConfigPrinter.Print(config);
        Assert.Contains("  certificate 0CA nvram:leaf\n  certificate ca CA nvram:root\n", printed, StringComparison.Ordinal);
        Assert.Equal(config, Parsed(printed));
    }

    [Fact]
    public void Print_Table3_InTheSslmFaceAndParsesBackEqual()
    {
        var config = Parsed(Table3);

        var printed = ConfigPrinter.Print(config);

        Assert.Contains("ssl-proxy context Default\n  maxconns 65536\n  service s2 client\n    virtual ipaddr 10.10.0.15 protocol tcp port 80\n", printed, StringComparison.Ordinal);
        Assert.Contains("crypto pki certificate chain tp1\n  certificate 10 nvram:ca-root#10.cer\n  certificate ca 01 nvram:ca-root#01.cer\n", printed, StringComparison.Ordinal);
        Assert.Equal(config, Parsed(printed));
        var sections = ConfigSections.Split(config).ToList();
        Assert.Contains(sections, s => s.Key == "ssl-proxy-context/Default");
        var rebuilt = sections.Aggregate(RunningConfig.Empty, (c, s) => ConfigSections.With(c, s.Key, s.Value));
        Assert.Equal(config, rebuilt);
    }

    /// <summary>The same table, the 2.1 column.</summary>
    private const string Table3TwoOne = """
        ssl-proxy service s2 client
         virtual ipaddr 10.10.0.15 protocol tcp port 80
         server ipaddr 10.0.207.203 protocol tcp port 443
         nat client n1
         authenticate verify all
         inservice
        !
        crypto ca trustpoint tp1
         crl optional
        !
        crypto ca certificate chain tp1
         certificate 10 nvram:ca-root#10.cer
         certificate ca 01 nvram:ca-root#01.cer
        !
        ssl-proxy vlan 2
         ipaddr 10.122.0.6 255.0.0.0
         gateway 10.0.100.1
         route 0.0.0.0 255.255.255.0 gateway 207.0.100.1
         admin
        """;

    [Fact]
    public void Parse_Table3TwoOneColumn_UpgradesToTheModelOfTheThreeOneColumn()
    {
        var upgraded = Parsed(Table3TwoOne);
        var current = Parsed(Table3);

        Assert.Equal(current with { Contexts = current.Contexts.SetItem("Default", current.Contexts["Default"] with { MaxConns = null }) }, upgraded);
    }

    [Fact]
    public void Parse_CssServiceAfterATwoOneBlock_StaysACssService()
    {
        var config = Parsed("""
            ssl-proxy natpool n1 10.1.1.1 10.1.1.9 netmask 255.255.255.0
            service web
              ip address 10.0.0.5
            ssl-proxy service s2 client
             nat server
            service db
              ip address 10.0.0.6
            """);

        Assert.Equal(["db", "web"], config.Services.Keys);
        Assert.Equal(["s2"], config.Contexts["Default"].Services.Keys);
        Assert.Equal(["n1"], config.Contexts["Default"].NatPools.Keys);
    }

    [Fact]
    public void Parse_CertificateMapValueWithSpaces_CollapsedQuotedWhenPrintedAndReadBackEqual()
    {
        var config = Parsed("crypto pki certificate map m 10\n subject-name eq \"CN=a   b\"\n issuer-name co o=example   inc");

        Assert.Equal(["CN=a b", "o=example inc"], config.CertificateMaps["m"].Sequences[10].Select(r => r.Value));
        var printed = ConfigPrinter.Print(config);
        Assert.Contains("subject-name eq \"CN=a b\"", printed, StringComparison.Ordinal);
        Assert.Equal(config, Parsed(printed));
    }

    [Fact]
    public void Parse_SslProxyMacAddressInAnInterfaceBlock_NotApplicableAndTheBlockGoesOn()
    {
        var result = ConfigParser.Parse("interface SSL-Proxy0.2\n ssl-proxy mac-address 0011.2233.4455\n ip address 10.1.1.1 255.0.0.0");

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal(3, result.Diagnostics.Count(d => d.Severity == DiagnosticSeverity.NotApplicable));
    }

    [Fact]
    public void Parse_SslmTwoOneForms_GoIntoContextDefaultAsTheUpgradeDoes()
    {
        var config = Parsed("""
            ssl-proxy service s2 client
             virtual ipaddr 10.10.0.15 protocol tcp port 80
             server ipaddr 10.0.207.203 protocol tcp port 443
             inservice
            ssl-proxy policy http-header hp
             session
            crypto ca trustpoint tp1
             crl optional
            ssl-proxy vlan 2
            """);

        Assert.True(config.Contexts["Default"].Services["s2"].InService);
        Assert.True(config.Contexts["Default"].HeaderPolicies["hp"].Session);
        Assert.Equal([RevocationMethod.None], config.Trustpoints["tp1"].Revocation);
    }

    [Fact]
    public void Parse_ReleaseNotesExamples_EachCommandKept()
    {
        var config = Parsed("""
            crypto pki trustpoint server1
             min-chain-length 3
             rsakeypair server1-key 2048
             enrollment terminal pem
             revocation-check ocsp none
             ocsp url http://127.0.0.1:8081/
            crypto pki certificate chain server1
             certificate 02 server1-cert
            crypto pki trustpoint RootCA
             enrollment terminal
            crypto pki certificate chain RootCA
             certificate ca 01 root-ca
            crypto pki certificate map MAP1 10
             subject-name co engineering
             issuer-name eq cn=root ca
            ssl-proxy context Default
             pool ca samplePool
              ca trustpoint RootCA match map MAP1
             policy http-header headerPolicy
              client-cert basic
              session
              client-ip-port
              custom "X-Site:east"
              alias ClientCert-Subject-CN X-User
              prefix "SSL-"
              subject-name
              allow-revoked-certs
              allow-auth-failures
             service service1
              virtual ipaddr 127.0.0.21 protocol tcp port 443
              server ipaddr 127.0.0.22 protocol tcp port 80
              certificate rsa general-purpose trustpoint server1
              trusted-ca samplePool
              policy http-header headerPolicy
              log-auth-failures
              cert-trim
            """);

        var server1 = config.Trustpoints["server1"];
        Assert.Equal((3, "server1-key", "terminal pem", "http://127.0.0.1:8081/"), (server1.MinChainLength, server1.RsaKeyPair, server1.Enrollment, server1.OcspUrl));
        Assert.Equal([RevocationMethod.Ocsp, RevocationMethod.None], server1.Revocation);
        Assert.Equal([new CertificateMapRule(CertificateMapField.SubjectName, CertificateMapOperator.Contains, "engineering"),
            new CertificateMapRule(CertificateMapField.IssuerName, CertificateMapOperator.Equal, "cn=root ca")], config.CertificateMaps["MAP1"].Sequences[10]);
        var context = config.Contexts["Default"];
        Assert.Equal([new SslmPoolEntry("RootCA", "MAP1")], context.Pools["samplePool"].Entries);
        var policy = context.HeaderPolicies["headerPolicy"];
        Assert.Equal(ClientCertFields.Basic, policy.ClientCert);
        Assert.True(policy.Session && policy.ClientIpPort && policy.SubjectName && policy.AllowAuthFailures && policy.AllowRevokedCerts);
        Assert.Equal(["X-Site:east"], policy.Custom);
        Assert.Equal("X-User", policy.Aliases["ClientCert-Subject-CN"]);
        var service = context.Services["service1"];
        Assert.Equal(("server1", "samplePool", "headerPolicy"), (service.CertificateTrustpoint, service.TrustedCa, service.HeaderPolicy));
        Assert.True(service.LogAuthFailures && service.CertTrim && !service.InService && !service.Client);
        Assert.Equal(config, Parsed(ConfigPrinter.Print(config)));
    }

    [Fact]
    public void Parse_NoForms_TakeEachPartOut()
    {
        var config = Parsed("""
            crypto pki trustpoint tp
             rsakeypair k
            crypto pki certificate chain tp
             certificate 0A file-a
             certificate ca 01 file-ca
            ssl-proxy context c1
             maxconns 100
             policy http-header p
              session
              custom "X-A:1"
              no custom X-A
              no session
             no policy http-header p
             service s
              cert-trim
              no cert-trim
            crypto pki certificate chain tp
             no certificate 0A
            no crypto pki trustpoint tp
            """);

        Assert.Empty(config.Trustpoints);
        Assert.Empty(config.Contexts["c1"].HeaderPolicies);
        Assert.False(config.Contexts["c1"].Services["s"].CertTrim);
        Assert.Empty(Parsed("ssl-proxy context c1\nno ssl-proxy context c1").Contexts);
    }

    [Theory]
    [InlineData("ssl-proxy context c\n service s\n  virtual ipaddr 10.0.0.1 protocol udp port 443", "udp", "protocol tcp")]
    [InlineData("ssl-proxy context c\n service s\n  virtual policy ssl p", "policy", "not supported")]
    [InlineData("ssl-proxy context c\n policy ssl p", "ssl", "not supported by this release")]
    [InlineData("ssl-proxy context c\n policy http-heder p", "http-heder", "did you mean 'http-header'")]
    [InlineData("ssl-proxy context c\n service s\n service s client", "s", "is a server service")]
    [InlineData("ssl-proxy context c\n service s\n  certificate rsa general-purpose tp x", "rsa", "trustpoint NAME")]
    [InlineData("ssl-proxy context c\n service s\n  authenticate verify some", "some", "signature-only")]
    [InlineData("ssl-proxy context c\n policy http-header p\n  alias Not-A-Field X", "Not-A-Field", "not a field the module inserts")]
    [InlineData("ssl-proxy context c\n policy http-header p\n  client-cert full", "full", "client-cert basic")]
    [InlineData("crypto pki certificate chain nope", "nope", "crypto pki trustpoint nope")]
    [InlineData("crypto pki trustpoint t\ncrypto pki certificate chain t\n certificate ca 01", "01", "hex dump form is not read")]
    [InlineData("crypto pki trustpoint t\ncrypto pki certificate chain t\n certificate CA nvram:x", "CA", "'certificate 0CA FILE'")]
    [InlineData("crypto pki trustpoint t\n revocation-check ocsp ocsp", "ocsp", "named twice")]
    [InlineData("crypto pki trustpoint t\n crl query http://x", "query", "crl optional")]
    [InlineData("crypto pki certificate map m 10\n subject-name like x", "like", "eq, ne, co or nc")]
    [InlineData("ssl-proxy contxt c", "contxt", "did you mean 'context'")]
    [InlineData("ssl-proxy context c\n maxconns 0", "0", "from 1 to")]
    [InlineData("ssl-proxy context c\n service s\n  no", "no", "incomplete command")]
    [InlineData("ssl-proxy context c\n no pool x p", "x", "no pool ca NAME")]
    [InlineData("no crypto foo trustpoint t", "foo", "no crypto pki trustpoint")]
    [InlineData("ssl-proxy context c\n policy http-header p\n  alias ClientIP Content-Length", "Content-Length", "frames the request")]
    [InlineData("crypto pki certificate map m 1\n subject-name eq \"\"", "", "1 to 256")]
    [InlineData("crypto pki trustpoint t\n enrollment url \"http://ca/a b\"", "http://ca/a b", "URL")]
    public void Parse_BadSslmLine_NamesTheWordAndTheFix(string text, string word, string fragment)
    {
        var error = OnlyError(text);

        Assert.Equal(word, error.Word);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssl-proxy context c\n service s\n  certificate rsa general-purpose trustpoint none", "trustpoint 'none' does not exist")]
    [InlineData("ssl-proxy context c\n service s\n  trusted-ca pool1", "CA pool 'pool1' does not exist")]
    [InlineData("ssl-proxy context c\n service s\n  policy http-header p", "http-header policy 'p' does not exist")]
    [InlineData("ssl-proxy context c\n service s\n  inservice", "needs 'virtual ipaddr")]
    [InlineData("ssl-proxy context c\n policy http-header p\n  client-cert\n service s client\n  policy http-header p", "CSCin67360")]
    [InlineData("ssl-proxy context c\n policy http-header p\n  subject-name", "'subject-name' needs a client-cert option")]
    [InlineData("ssl-proxy context c\n policy http-header p\n  session\n service s client\n  virtual ipaddr 127.0.0.40 protocol tcp port 80\n  server ipaddr 127.0.0.41 protocol tcp port 443\n  policy http-header p\n  inservice", "have no SSL session to insert")]
    [InlineData("crypto pki trustpoint t\nssl-proxy context c\n pool ca p\n  ca trustpoint t\n service s client\n  virtual ipaddr 127.0.0.40 protocol tcp port 80\n  server ipaddr 127.0.0.41 protocol tcp port 443\n  trusted-ca p\n  inservice", "so no server could pass")]
    [InlineData("crypto pki trustpoint t\nssl-proxy context c\n service s client\n  virtual ipaddr 127.0.0.40 protocol tcp port 80\n  server ipaddr 127.0.0.41 protocol tcp port 443\n  certificate rsa general-purpose trustpoint t\n  inservice", "a client service presents it to its server")]
    [InlineData("crypto pki trustpoint t\ncrypto pki certificate map m 1\n subject-name co x\nssl-proxy context c\n pool ca p\n  ca trustpoint t match map m\n service s\n  trusted-ca p", "needs 'cert-trim'")]
    [InlineData("crypto pki trustpoint a\n revocation-check ocsp\ncrypto pki trustpoint b\n revocation-check none\nssl-proxy context c\n pool ca p\n  ca trustpoint a\n  ca trustpoint b", "check revocation differently")]
    [InlineData("crypto pki trustpoint t\n rsakeypair k\ncrypto pki certificate chain t\n certificate 01 f\n certificate ca 02 ca\ncrypto pki certificate map m 1\n subject-name co x\nssl-proxy context c\n pool ca p\n  ca trustpoint t match map m\n service s client\n  virtual ipaddr 127.0.0.40 protocol tcp port 80\n  server ipaddr 127.0.0.41 protocol tcp port 443\n  trusted-ca p\n  cert-trim\n  inservice", "a client service checks its server")]
    public void Validate_SslmReferenceOrRequirementBroken_RefusedWithTheFix(string text, string fragment)
    {
        var result = ConfigParser.Parse(text);

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, e => e.Message.Contains(fragment, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ProxyServiceOnTheAddressOfAContentRule_Refused()
    {
        var result = ConfigParser.Parse("""
            owner o
              content c
                vip address 127.0.0.30
                port 443
            crypto pki trustpoint t
            ssl-proxy context Default
             service s
              virtual ipaddr 127.0.0.30 protocol tcp port 443
              server ipaddr 127.0.0.31 protocol tcp port 80
              certificate rsa general-purpose trustpoint t
              inservice
            """);

        Assert.Contains(result.Errors, e => e.Message.Contains("is already served by content c of owner o", StringComparison.Ordinal));
    }

    [Fact]
    public void Lower_ClientProxyService_BecomesAnInitiationBackendWithThePoolsCasAndTheTrustpointsCertificate()
    {
        var config = Parsed("""
            crypto pki trustpoint id
             rsakeypair idkey
            crypto pki certificate chain id
             certificate 01 nvram:idcert
            crypto pki trustpoint ca1
             revocation-check none
            crypto pki certificate chain ca1
             certificate ca 01 nvram:root1
             certificate ca 02 nvram:root2
            ssl-proxy context lab
             pool ca servers
              ca trustpoint ca1
             service s2 client
              virtual ipaddr 127.0.0.40 protocol tcp port 80
              server ipaddr 127.0.0.41 protocol tcp port 443
              certificate rsa general-purpose trustpoint id
              trusted-ca servers
              authenticate verify signature-only
              inservice
            """);

        var plan = SslCluster.Protocol.Runtime.RuntimePlan.Build(1, config);

        var listener = Assert.Single(plan.Listeners);
        Assert.Equal((SslCluster.Protocol.Runtime.ListenerKind.TcpRelay, "127.0.0.40", 80), (listener.Kind, listener.Vip, listener.Port));
        var target = Assert.Single(listener.Servers);
        Assert.Equal(("127.0.0.41", (int?)443), (target.Address, target.Port));
        var backend = target.Backend!;
        Assert.Equal(BackendServerType.Initiation, backend.Server.Type);
        Assert.Equal(["root1", "root2"], backend.CaFiles);
        Assert.Equal(("idkey", "idcert"), (backend.KeyFile, backend.CertFile));
        Assert.True(backend.Server.SignatureOnly);
        Assert.Equal("s2@lab", backend.InitiationModule);
        Assert.Equal(("lab", 0), (listener.Context, listener.ContextMaxConnections));
        Assert.Equal(SslmLowering.Lower(config), SslmLowering.Lower(SslmLowering.Lower(config)));
    }

    [Fact]
    public void Lower_ClientProxyServiceWithoutPool_ServerNotVerifiedAndNoClientCertificate()
    {
        var config = Parsed("""
            ssl-proxy context Default
             maxconns 3000
             service s2 client
              virtual ipaddr 127.0.0.40 protocol tcp port 80
              server ipaddr 127.0.0.41 protocol tcp port 443
              authenticate verify all
              inservice
            """);

        var listener = Assert.Single(SslCluster.Protocol.Runtime.RuntimePlan.Build(1, config).Listeners);
        var backend = Assert.Single(listener.Servers).Backend!;

        Assert.Equal(("Default", 3000), (listener.Context, listener.ContextMaxConnections));
        Assert.Empty(backend.CaFiles);
        Assert.Null(backend.KeyFile);
        Assert.False(backend.Server.SignatureOnly);
    }

    [Theory]
    [InlineData("CN=alice, O=Tests", "CN=Pool CA, O=Tests", true)]
    [InlineData("cn = alice,o = tests", "CN=Pool CA,O=Tests", true)]
    [InlineData("CN=bob, O=Tests", "CN=Pool CA, O=Tests", false)]
    [InlineData("CN=alice, O=Tests", "CN=Other CA, O=Tests", false)]
    public void CertificateMap_Matches_EveryRuleOfOneSequenceIgnoringCaseAndSpaces(string subject, string issuer, bool matches)
    {
        var map = Parsed("""
            crypto pki certificate map m 10
             subject-name co ALICE
             issuer-name eq cn=pool ca, o=tests
            crypto pki certificate map m 20
             subject-name eq cn=carol
            """).CertificateMaps["m"];

        Assert.Equal(matches, map.Matches(subject, issuer));
        Assert.True(map.Matches("CN=carol", "CN=anyone"));
        Assert.Equal(map.Digest, Parsed("crypto pki certificate map m 10\n subject-name co alice\n issuer-name eq CN=Pool CA,O=Tests\ncrypto pki certificate map m 20\n subject-name eq cn=carol").CertificateMaps["m"].Digest);
    }
}
