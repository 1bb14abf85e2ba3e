using McpGateway.Diagnostics;

namespace McpGateway.Tests.Diagnostics;

public sealed class AuditExcerptTests
{
    [Theory]
    [InlineData("", "")]
    [InlineData("plain error", "plain error")]
    [InlineData("  line one\r\n\tline two\n\n", "line one line two")]
    [InlineData("nul\0bell\aesc\u001b[31mred", "nul bell esc [31mred")]
    [InlineData("a\u2028b\u2029c\u0085d", "a b c d")]
    [InlineData("bidi \u202Eevil\u202C zw\u200Bsp", "bidi evil zw sp")]
    [InlineData("工具 😀 ok", "工具 😀 ok")]
    public void Excerpt_ControlAndFormatCharacters_GiveOneCleanLine(string text, string expected) =>
        Assert.Equal(expected, AuditRedaction.Excerpt(text));

    [Fact]
    public void Excerpt_LoneSurrogate_BecomesTheReplacementCharacter() =>
        Assert.Equal("lone \uFFFD half \uFFFD", AuditRedaction.Excerpt("lone \ud800 half \udc00"));

    [Theory]
    [InlineData("Authorization: Bearer abc.def", "Authorization: Bearer [redacted]")]
    [InlineData("bearer    x", "bearer [redacted]")]
    [InlineData("BEARER eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig rest", "BEARER [redacted] rest")]
    [InlineData("the Bearer scheme, failed: \"invalid\"", "the Bearer [redacted], failed: \"invalid\"")]
    [InlineData("ends with Bearer", "ends with Bearer")]
    public void Excerpt_BearerToken_IsMasked(string text, string expected) =>
        Assert.Equal(expected, AuditRedaction.Excerpt(text));

    [Theory]
    [InlineData("key sk-proj-4f9a8b7c6d5e4f3a2b1c0d9e rejected", "key [redacted] rejected")]
    [InlineData("ghp_0123456789abcdefABCDEF0123456789abcd", "[redacted]")]
    [InlineData("url https://x.test/a?sig=AbCdEf0123456789AbCdEf01&x=1", "url https://x.test/a?[redacted]&x=1")]
    [InlineData("abcdefghijklmnopqrstuvwxyz is only letters", "abcdefghijklmnopqrstuvwxyz is only letters")]
    [InlineData("123456789012345678901234567890 only digits", "123456789012345678901234567890 only digits")]
    [InlineData("short a1b2c3 stays", "short a1b2c3 stays")]
    [InlineData("id 550e8400-e29b-41d4-a716-446655440000", "id [redacted]")]
    public void Excerpt_LongRunOfLettersAndDigits_IsMasked(string text, string expected) =>
        Assert.Equal(expected, AuditRedaction.Excerpt(text));

    [Theory]
    [InlineData("failed with password=hunter2 for user", "failed with password=[redacted] for user")]
    [InlineData("?access_token=abc&page=2", "?access_token=[redacted]&page=2")]
    [InlineData("page=2", "page=2")]
    [InlineData("token= nothing", "token= nothing")]
    public void Excerpt_SecretLookingKeyValue_LosesItsValue(string text, string expected) =>
        Assert.Equal(expected, AuditRedaction.Excerpt(text));

    [Fact]
    public void Excerpt_LongText_IsCutToMaxWithAnEllipsis()
    {
        string excerpt = AuditRedaction.Excerpt(string.Join(' ', Enumerable.Repeat("word", 100)), max: 20);

        Assert.Equal("word word word word…", excerpt);
        Assert.Equal(20, excerpt.Length);
    }

    [Fact]
    public void Excerpt_TextOfExactlyMax_IsNotCut() =>
        Assert.Equal("abcde", AuditRedaction.Excerpt("abcde", max: 5));

    [Fact]
    public void Excerpt_CredentialAcrossTheCut_IsMaskedNotHalfShown()
    {
        string secret = "Zx9" + new string('k', 40);

        string excerpt = AuditRedaction.Excerpt(new string('a', 10) + " " + secret, max: 20);

        Assert.Equal("aaaaaaaaaa [redacte…", excerpt);
        Assert.DoesNotContain("Zx9", excerpt, StringComparison.Ordinal);
    }

    [Fact]
    public void Excerpt_HugeBody_CostsOnlyWhatIsShown()
    {
        string excerpt = AuditRedaction.Excerpt(new string('a', 10_000_000), max: 50);

        Assert.Equal(50, excerpt.Length);
        Assert.EndsWith("…", excerpt, StringComparison.Ordinal);
    }

    [Fact]
    public void Excerpt_CutNeverSplitsASurrogatePair() =>
        Assert.Equal("abc…", AuditRedaction.Excerpt("abc😀😀😀", max: 5));
}
