using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Diagnostics;

namespace McpGateway.Tests.Diagnostics;

public sealed class AuditRecordJsonTests
{
    [Fact]
    public void Write_EveryField_UsesCamelCaseNamesInDeclarationOrder()
    {
        var record = new AuditRecord
        {
            Time = AuditFixture.Time,
            Agent = "researcher",
            IdentitySource = AuditIdentitySources.Jwt,
            CredentialId = "sub-42",
            Session = "s-3f9a",
            ClientAddress = "10.0.0.7",
            Method = "tools/call",
            Server = "github",
            Item = "github_create_issue",
            OriginalItem = "create_issue",
            Decision = AuditDecisions.Denied,
            Rule = "agents.researcher.deny.tools.github[0]",
            Outcome = AuditOutcome.ToolError,
            ErrorCode = -32602,
            Error = "denied",
            LatencyMs = 1.23456,
            RequestBytes = 180,
            ResponseBytes = 2048,
            Arguments = new JsonObject { ["title"] = "x" },
        };

        string json = AuditFixture.Serialize(record);

        Assert.Equal(
            """{"time":"2026-07-28T09:15:02.123Z","agent":"researcher","identitySource":"jwt","credentialId":"sub-42","session":"s-3f9a","clientAddress":"10.0.0.7","method":"tools/call","server":"github","item":"github_create_issue","originalItem":"create_issue","decision":"denied","rule":"agents.researcher.deny.tools.github[0]","outcome":"tool-error","errorCode":-32602,"error":"denied","latencyMs":1.235,"requestBytes":180,"responseBytes":2048,"arguments":{"title":"x"}}""",
            json);
    }

    [Fact]
    public void Write_NullFields_AreLeftOut()
    {
        var record = new AuditRecord
        {
            Time = AuditFixture.Time,
            IdentitySource = AuditIdentitySources.None,
            Method = AuditMethods.Http,
            Decision = AuditDecisions.Refused,
            Outcome = AuditOutcome.Refused,
        };

        string json = AuditFixture.Serialize(record);

        Assert.Equal(
            """{"time":"2026-07-28T09:15:02.123Z","identitySource":"none","method":"http","decision":"refused","outcome":"refused","latencyMs":0.000,"requestBytes":0,"responseBytes":0}""",
            json);
    }

    [Fact]
    public void Write_EveryOutcome_HasALowerKebabCaseName()
    {
        string[] names = [.. Enum.GetValues<AuditOutcome>().Select(o => Parse(AuditFixture.Serialize(With(AuditFixture.Record(), outcome: o))).GetProperty("outcome").GetString()!)];

        Assert.Equal(["result", "tool-error", "protocol-error", "timeout", "cancelled", "refused"], names);
    }

    [Fact]
    public void Write_Time_IsUtcWithMillisecondsTruncatedNotRounded()
    {
        AuditRecord record = With(AuditFixture.Record(), time: new DateTimeOffset(2026, 12, 31, 23, 59, 59, 999, TimeSpan.Zero).AddTicks(9999));

        Assert.Equal("2026-12-31T23:59:59.999Z", Parse(AuditFixture.Serialize(record)).GetProperty("time").GetString());
    }

    [Theory]
    [InlineData(0.0, "0.000")]
    [InlineData(12.5, "12.500")]
    [InlineData(0.0004, "0.000")]
    [InlineData(1234567.8916, "1234567.892")]
    [InlineData(-3.0, "0.000")]
    [InlineData(double.NaN, "0.000")]
    [InlineData(double.PositiveInfinity, "0.000")]
    public void Write_Latency_HasThreeDecimalsAndIsNeverInvalidJson(double latency, string expected)
    {
        AuditRecord record = With(AuditFixture.Record(), latency: latency);

        string json = AuditFixture.Serialize(record);

        Assert.Contains($"\"latencyMs\":{expected},", json, StringComparison.Ordinal);
        Parse(json);
    }

    [Theory]
    [InlineData("say \"hi\"")]
    [InlineData("back\\slash")]
    [InlineData("two\nlines\r\nand a tab\t")]
    [InlineData("nul\0 bell\a escape\u001b[31m red")]
    [InlineData("next line\u0085 line sep\u2028 para sep\u2029")]
    [InlineData("bidi \u202Eevil\u202C and \u2066isolate\u2069")]
    [InlineData("héllo 工具 😀 ﷽")]
    [InlineData("</script><!-- & '")]
    public void Write_AwkwardStrings_StayOnOneLineAndRoundTrip(string value)
    {
        AuditRecord record = With(AuditFixture.Record(value), agent: value, error: value);

        string json = AuditFixture.Serialize(record);

        Assert.DoesNotContain(json, c => c < 0x20 || c is '\u007f' or '\u0085' or '\u2028' or '\u2029' or '\u202E' or '\u2066');
        JsonElement parsed = Parse(json);
        Assert.Equal(value, parsed.GetProperty("item").GetString());
        Assert.Equal(value, parsed.GetProperty("agent").GetString());
        Assert.Equal(value, parsed.GetProperty("error").GetString());
    }

    [Fact]
    public void Write_NonAsciiText_IsWrittenAsIsForGrep()
    {
        string json = AuditFixture.Serialize(AuditFixture.Record("工具_héllo"));

        Assert.Contains("\"item\":\"工具_héllo\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_LoneSurrogate_BecomesReplacementCharacterInsteadOfFailing()
    {
        string json = AuditFixture.Serialize(AuditFixture.Record("bad\ud800half"));

        Assert.Equal("bad\uFFFDhalf", Parse(json).GetProperty("item").GetString());
    }

    [Fact]
    public void Write_ArgumentsWithInvisibleCharacters_EscapesThemInValuesAndNames()
    {
        var arguments = new JsonObject { ["na\u202Eme"] = "va\u200Blue", ["list"] = new JsonArray("\u2066x", 1) };

        string json = AuditFixture.Serialize(With(AuditFixture.Record(), arguments: arguments));

        Assert.DoesNotContain(json, c => c is '\u202E' or '\u200B' or '\u2066');
        JsonElement parsed = Parse(json).GetProperty("arguments");
        Assert.Equal("va\u200Blue", parsed.GetProperty("na\u202Eme").GetString());
        Assert.Equal("\u2066x", parsed.GetProperty("list")[0].GetString());
    }

    [Fact]
    public void Write_ArgumentsWithNewlines_StayOnOneLine()
    {
        JsonNode arguments = JsonNode.Parse("""
            {
              "query": "a\nb",
              "nested": [1, {"x": "\u2028"}]
            }
            """)!;

        string json = AuditFixture.Serialize(With(AuditFixture.Record(), arguments: arguments));

        Assert.DoesNotContain('\n', json);
        Assert.Equal("a\nb", Parse(json).GetProperty("arguments").GetProperty("query").GetString());
    }

    [Fact]
    public void Write_ArgumentsNotIncluded_AreLeftOutEvenWhenSet()
    {
        AuditRecord record = With(AuditFixture.Record(), arguments: new JsonObject { ["password"] = "hunter2" });

        string json = AuditFixture.Serialize(record, includeArguments: false);

        Assert.False(Parse(json).TryGetProperty("arguments", out _));
    }

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    private static AuditRecord With(
        AuditRecord r,
        AuditOutcome? outcome = null,
        DateTimeOffset? time = null,
        double? latency = null,
        string? agent = null,
        string? error = null,
        JsonNode? arguments = null) => new()
        {
            Time = time ?? r.Time,
            Agent = agent ?? r.Agent,
            IdentitySource = r.IdentitySource,
            CredentialId = r.CredentialId,
            Session = r.Session,
            ClientAddress = r.ClientAddress,
            Method = r.Method,
            Server = r.Server,
            Item = r.Item,
            OriginalItem = r.OriginalItem,
            Decision = r.Decision,
            Rule = r.Rule,
            Outcome = outcome ?? r.Outcome,
            ErrorCode = r.ErrorCode,
            Error = error ?? r.Error,
            LatencyMs = latency ?? r.LatencyMs,
            RequestBytes = r.RequestBytes,
            ResponseBytes = r.ResponseBytes,
            Arguments = arguments ?? r.Arguments,
        };
}
