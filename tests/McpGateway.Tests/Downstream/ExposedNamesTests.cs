using System.Text.RegularExpressions;
using McpGateway.Downstream;

namespace McpGateway.Tests.Downstream;

public sealed partial class ExposedNamesTests
{
    [Theory]
    [InlineData("github", "create_issue", "github_create_issue")]
    [InlineData("brave-search", "web-search", "brave-search_web-search")]
    [InlineData("my_server", "a_b", "my_server_a_b")]
    [InlineData("", "read_file", "read_file")]
    [InlineData("X9", "Tool-9_z", "X9_Tool-9_z")]
    public void Preferred_LegalNames_PassThroughAsPrefixSeparatorTool(string prefix, string tool, string expected) =>
        Assert.Equal(expected, ExposedNames.Preferred(prefix, "_", "server", tool));

    [Theory]
    [InlineData("my.server", "get/file name", "my_server_get_file_name")]
    [InlineData("fs", "read.file", "fs_read_file")]
    [InlineData("fs", "héllo", "fs_h_llo")]
    [InlineData("fs", "a:b@c", "fs_a_b_c")]
    [InlineData("", "tool\ttab", "tool_tab")]
    public void Preferred_IllegalCharacters_BecomeUnderscores(string prefix, string tool, string expected) =>
        Assert.Equal(expected, ExposedNames.Preferred(prefix, "_", "server", tool));

    [Fact]
    public void Preferred_IllegalSeparator_BecomesAnUnderscore() =>
        Assert.Equal("fs_read", ExposedNames.Preferred("fs", ".", "server", "read"));

    [Fact]
    public void Preferred_NameOfExactly64Characters_IsKeptWhole()
    {
        string tool = new('t', 61);

        Assert.Equal("fs_" + tool, ExposedNames.Preferred("fs", "_", "server", tool));
    }

    [Fact]
    public void Preferred_NameOver64Characters_IsCutTo64WithAnEightHexHash()
    {
        string tool = new('t', 62);

        string name = ExposedNames.Preferred("fs", "_", "server", tool);

        Assert.Equal(ExposedNames.MaxLength, name.Length);
        Assert.StartsWith("fs_" + new string('t', 52), name, StringComparison.Ordinal);
        Assert.Matches(HashSuffix(), name);
    }

    [Fact]
    public void Preferred_LongName_IsTheSameEveryTime()
    {
        string tool = new('q', 200);

        Assert.Equal(ExposedNames.Preferred("srv", "_", "srv", tool), ExposedNames.Preferred("srv", "_", "srv", tool));
    }

    [Fact]
    public void Preferred_LongNamesThatShareTheirBeginning_StayDistinct()
    {
        string shared = new('s', 80);

        string first = ExposedNames.Preferred("srv", "_", "srv", shared + "_one");
        string second = ExposedNames.Preferred("srv", "_", "srv", shared + "_two");

        Assert.NotEqual(first, second);
        Assert.Equal(first[..^8], second[..^8]);
    }

    [Fact]
    public void Preferred_SameLongToolOnTwoServers_GetsDistinctNames()
    {
        string tool = new('t', 100);

        Assert.NotEqual(ExposedNames.Preferred("", "_", "one", tool), ExposedNames.Preferred("", "_", "two", tool));
    }

    public static TheoryData<string, string> NastyInputs() => new()
    {
        { "", "工具" },
        { "", "😀" },
        { "", "e\u0301" },
        { "", "..." },
        { "", " " },
        { "", "a/b\\c" },
        { "", "\0" },
        { "ünïcödé", "名前" },
        { "srv", "tool with spaces and.dots/and/slashes" },
        { "srv", new string('x', 300) },
        { "", new string('x', 300) },
        { new string('p', 64), "t" },
        { "srv", string.Concat(Enumerable.Repeat("😀", 100)) },
        { "srv", string.Concat(Enumerable.Repeat("ab.", 100)) },
        { "-", "-" },
        { "srv", "\u202Eevil\u200B" },
    };

    [Theory]
    [MemberData(nameof(NastyInputs))]
    public void Preferred_AnyInput_GivesALegalName(string prefix, string tool)
    {
        string name = ExposedNames.Preferred(prefix, "_", "server", tool);

        Assert.Matches(LegalName(), name);
        Assert.True(ExposedNames.IsLegal(name));
    }

    [Theory]
    [MemberData(nameof(NastyInputs))]
    public void WithHash_AnyInput_GivesALegalNameThatIsStable(string prefix, string tool)
    {
        string preferred = ExposedNames.Preferred(prefix, "_", "server", tool);

        string name = ExposedNames.WithHash(preferred, "server", tool);

        Assert.Matches(LegalName(), name);
        Assert.Matches(HashSuffix(), name);
        Assert.Equal(name, ExposedNames.WithHash(preferred, "server", tool));
    }

    [Theory]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(300)]
    public void WithHash_RetryAttempts_GiveDistinctLegalNames_WhateverTheLength(int length)
    {
        // A name cut to the limit already ends in its (server, tool) hash, so its first fallback is the name itself, and a
        // retry that appended a counter before cutting would be cut away again: only a hash of the attempt makes progress.
        string tool = new('n', length);
        string preferred = ExposedNames.Preferred("", "_", "server", tool);

        string[] names = [.. Enumerable.Range(1, 5).Select(attempt => ExposedNames.WithHash(preferred, "server", tool, attempt))];

        Assert.Equal(names.Length, names.Distinct(StringComparer.Ordinal).Count());
        Assert.All(names, n => Assert.Matches(LegalName(), n));
        Assert.DoesNotContain(preferred, names.Skip(1));
    }

    [Fact]
    public void WithHash_FirstAttempt_IsTheNameWithoutAnAttempt() =>
        Assert.Equal(ExposedNames.WithHash("echo_args", "twin", "echo_args"), ExposedNames.WithHash("echo_args", "twin", "echo_args", 1));

    [Theory]
    [InlineData("a", true)]
    [InlineData("A-z_0", true)]
    [InlineData("", false)]
    [InlineData("a.b", false)]
    [InlineData("a b", false)]
    [InlineData("ä", false)]
    public void IsLegal_FollowsTheClientNameRule(string name, bool expected) =>
        Assert.Equal(expected, ExposedNames.IsLegal(name));

    [Fact]
    public void IsLegal_LengthLimitIs64()
    {
        Assert.True(ExposedNames.IsLegal(new string('a', 64)));
        Assert.False(ExposedNames.IsLegal(new string('a', 65)));
    }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex LegalName();

    [GeneratedRegex("_[0-9a-f]{8}$")]
    private static partial Regex HashSuffix();
}
