using System.Text.Json.Nodes;
using McpGateway.Diagnostics;

namespace McpGateway.Tests.Diagnostics;

public sealed class AuditRedactionTests
{
    [Theory]
    [InlineData("password")]
    [InlineData("PASSWORD")]
    [InlineData("db_passwd")]
    [InlineData("clientSecret")]
    [InlineData("access_token")]
    [InlineData("refreshToken")]
    [InlineData("apikey")]
    [InlineData("ApiKey")]
    [InlineData("x_api_key")]
    [InlineData("X-Api-Key")]
    [InlineData("key")]
    [InlineData("KEY")]
    [InlineData("private_key")]
    [InlineData("access_key")]
    [InlineData("accessKey")]
    [InlineData("signing-key")]
    [InlineData("key_id")]
    [InlineData("ssh keys")]
    [InlineData("Authorization")]
    [InlineData("auth")]
    [InlineData("oauth_state")]
    [InlineData("credentials")]
    [InlineData("Cookie")]
    [InlineData("set-cookie")]
    [InlineData("session_id")]
    [InlineData("signature")]
    [InlineData("privateRepo")]
    public void IsSecretKey_SecretLookingKeys_AreSecret(string key) => Assert.True(AuditRedaction.IsSecretKey(key));

    [Theory]
    [InlineData("keyword")]
    [InlineData("keyboard_layout")]
    [InlineData("monkey")]
    [InlineData("hotkey")]
    [InlineData("query")]
    [InlineData("path")]
    [InlineData("title")]
    [InlineData("")]
    public void IsSecretKey_KeyInsideAnotherWord_IsNotSecret(string key) => Assert.False(AuditRedaction.IsSecretKey(key));

    [Fact]
    public void RedactArguments_NestedObjectsAndArrays_RedactsAtEveryDepth()
    {
        JsonNode arguments = JsonNode.Parse("""
            {
              "query": "select 1",
              "Password": "hunter2",
              "connection": {"host": "db", "port": 5432, "apiKey": {"id": 1, "value": "abc"}},
              "headers": [{"name": "Accept", "Authorization": "Bearer xyz"}, ["nested", {"token": 7}]],
              "keyword": "kept"
            }
            """)!;

        JsonNode? redacted = AuditRedaction.RedactArguments(arguments);

        Assert.Equal(
            """{"query":"select 1","Password":"[redacted]","connection":{"host":"db","port":5432,"apiKey":"[redacted]"},"headers":[{"name":"Accept","Authorization":"[redacted]"},["nested",{"token":"[redacted]"}]],"keyword":"kept"}""",
            redacted!.ToJsonString());
    }

    [Fact]
    public void RedactArguments_ReturnsACopy_LeavingTheOriginalUntouched()
    {
        var arguments = new JsonObject { ["password"] = "hunter2", ["list"] = new JsonArray(1, 2) };

        JsonNode copy = AuditRedaction.RedactArguments(arguments)!;
        arguments["list"]!.AsArray().Add(3);

        Assert.Equal("hunter2", (string?)arguments["password"]);
        Assert.Equal("""{"password":"[redacted]","list":[1,2]}""", copy.ToJsonString());
    }

    [Fact]
    public void RedactArguments_LongString_IsCutWithTheCountOfWhatWasLeftOut()
    {
        var arguments = new JsonObject { ["body"] = new string('a', 1500), ["items"] = new JsonArray(new string('b', 1025)) };

        JsonNode copy = AuditRedaction.RedactArguments(arguments)!;

        Assert.Equal(new string('a', 1024) + "…(476 more chars)", (string?)copy["body"]);
        Assert.Equal(new string('b', 1024) + "…(1 more chars)", (string?)copy["items"]![0]);
    }

    [Fact]
    public void RedactArguments_StringOfExactlyTheLimit_IsKept()
    {
        string text = new('a', 1024);

        Assert.Equal(text, (string?)AuditRedaction.RedactArguments(JsonValue.Create(text)));
    }

    [Fact]
    public void RedactArguments_CutNeverSplitsASurrogatePair()
    {
        string text = new string('a', 1023) + "😀" + new string('b', 10);

        string cut = (string)AuditRedaction.RedactArguments(JsonValue.Create(text))!;

        Assert.Equal(new string('a', 1023) + "…(12 more chars)", cut);
    }

    [Fact]
    public void RedactArguments_Null_IsNull() => Assert.Null(AuditRedaction.RedactArguments(null));

    [Fact]
    public void RedactArguments_NonStringValues_AreCopiedAsTheyAre()
    {
        JsonNode arguments = JsonNode.Parse("""{"n": 1.5, "b": true, "z": null, "s": "x"}""")!;

        Assert.Equal("""{"n":1.5,"b":true,"z":null,"s":"x"}""", AuditRedaction.RedactArguments(arguments)!.ToJsonString());
    }

    [Fact]
    public void RedactArguments_DeeperThanTheLimit_IsReplacedRatherThanOverflowingTheStack()
    {
        JsonNode deepest = new JsonArray();
        JsonNode root = deepest;
        for (int i = 0; i < 10_000; i++)
        {
            root = new JsonArray(root);
        }

        JsonNode copy = AuditRedaction.RedactArguments(root)!;

        int depth = 0;
        for (JsonNode? node = copy; node is JsonArray array; node = array[0])
        {
            depth++;
        }

        Assert.Equal(AuditRedaction.MaxDepth, depth);
        Assert.Contains("[too deep]", copy.ToJsonString(new System.Text.Json.JsonSerializerOptions { MaxDepth = 100 }), StringComparison.Ordinal);
    }
}
