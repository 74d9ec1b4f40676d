using CsCheck;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Tests.Config;
using Xunit;

namespace SslCluster.Protocol.Tests.Distribution;

/// <summary>The configuration cut into sections rebuilds to the same model, and a diff names exactly what changed.</summary>
public sealed class ConfigSectionsTests
{
    private static RunningConfig Join(IEnumerable<KeyValuePair<string, string>> sections) =>
        sections.Aggregate(RunningConfig.Empty, (c, s) => ConfigSections.With(c, s.Key, s.Value));

    [Fact]
    public void SplitThenWith_AnyModel_RebuildsAnEqualModel()
    {
        RoundTripPropertyTests.GenConfig.Sample(config => Assert.Equal(config, Join(ConfigSections.Split(config))), iter: 300);
    }

    [Theory]
    [InlineData("ssl-flow.cfg")]
    [InlineData("hitless-base.cfg")]
    [InlineData("keepalive-global.cfg")]
    [InlineData("client-auth-frontend.cfg")]
    [InlineData("ssl-init.cfg")]
    public void SplitThenWith_ReferenceSample_RebuildsTheSameModelAndText(string sample)
    {
        // The samples name files of a store this test does not have: the lines alone, without the whole-model checks.
        var config = ConfigParser.ApplyLines(RunningConfig.Empty, ReferenceSampleTests.Sample(sample), ConfigOptions.Default).Config;

        var rebuilt = Join(ConfigSections.Split(config));

        Assert.Equal(config, rebuilt);
        Assert.Equal(ConfigPrinter.Print(config), ConfigPrinter.Print(rebuilt));
    }

    [Fact]
    public void Diff_AnyTwoModels_TurnsTheFirstIntoTheSecond()
    {
        Gen.Select(RoundTripPropertyTests.GenConfig, RoundTripPropertyTests.GenConfig).Sample((a, b) =>
        {
            var (changed, removed) = ConfigSections.Diff(a, b);
            var result = removed.Aggregate(a, (c, k) => ConfigSections.With(c, k, null));
            result = changed.Aggregate(result, (c, s) => ConfigSections.With(c, s.Key, s.Value));
            Assert.Equal(b, result);
        }, iter: 200);
    }

    [Fact]
    public void Diff_OneChangeAmongThousands_NamesOnlyThatObject()
    {
        var text = string.Join("\n", Enumerable.Range(1, 2_000).Select(i => $"service s{i}\nip address 10.0.{i / 256}.{i % 256}"));
        var before = ConfigParser.Reload(text);
        var after = ConfigParser.Apply(before, "service s1234\nweight 7").Config!;

        var (changed, removed) = ConfigSections.Diff(before, after);

        Assert.Equal("service/s1234", Assert.Single(changed).Key);
        Assert.Empty(removed);
    }

    [Theory]
    [InlineData("nonsense/x", "service web\n")]
    [InlineData("service/web", "service other\n")]
    [InlineData("service/web", "service web\nservice other\n")]
    [InlineData("noslash", "service web\n")]
    public void With_SectionThatIsNotThatObject_ThrowsFormatException(string key, string text)
    {
        Assert.Throws<FormatException>(() => ConfigSections.With(RunningConfig.Empty, key, text));
    }
}
