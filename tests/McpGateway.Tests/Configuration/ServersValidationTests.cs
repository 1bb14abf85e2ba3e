using McpGateway.Configuration;

namespace McpGateway.Tests.Configuration;

/// <summary>Mistakes in the servers file: each reported with its JSON path, what is wrong and how to fix it.</summary>
public sealed class ServersValidationTests
{
    [Fact]
    public void ParseServers_MissingComma_ReportsLineAndColumn()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""
            {
              "mcpServers": {
                "a": {"command": "x"}
                "b": {"command": "y"}
              }
            }
            """);

        ConfigDiagnostic error = Assert.Single(result.Diagnostics);
        Assert.True(error.IsError);
        Assert.Contains("invalid JSON", error.Message, StringComparison.Ordinal);
        Assert.Equal(4, error.Line);
        Assert.Equal(5, error.Column);
        Assert.False(string.IsNullOrWhiteSpace(error.Fix));
        Assert.StartsWith("servers.json:4:5: error: invalid JSON", error.ToString(), StringComparison.Ordinal);
        Assert.Null(result.Value);
    }

    [Fact]
    public void ParseServers_TruncatedFile_IsInvalidJson()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"}\n");

        ConfigDiagnostic error = Assert.Single(result.Diagnostics);
        Assert.Contains("invalid JSON", error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.Line);
        Assert.NotNull(error.Column);
    }

    [Fact]
    public void ParseServers_ContentAfterTheValue_IsInvalidJsonWithPosition()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("{\"mcpServers\": {}}\n{}");

        ConfigDiagnostic error = Assert.Single(result.Diagnostics);
        Assert.Contains("invalid JSON", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, error.Line);
        Assert.Equal(1, error.Column);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \n\t ")]
    public void ParseServers_EmptyFile_IsAnError(string json)
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers(json);

        ConfigFixture.SingleError(result.Diagnostics, "$", "empty");
    }

    [Fact]
    public void ParseServers_RootIsNotAnObject_IsAnError()
    {
        ConfigFixture.SingleError(ConfigFixture.Servers("""["a"]""").Diagnostics, "$", "expected an object but found an array");
    }

    [Fact]
    public void ParseServers_NoServersKey_IsAnError()
    {
        ConfigFixture.SingleError(ConfigFixture.Servers("""{"mcp_servers": {}}""").Diagnostics, "$", "no 'mcpServers' object");
    }

    [Fact]
    public void ParseServers_DuplicateKey_IsAnErrorAtTheSecondOccurrence()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""
            {
              "mcpServers": {
                "a": {"command": "x"},
                "a": {"command": "y"}
              }
            }
            """);

        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a", "appears more than once");
        Assert.Equal(4, error.Line);
        Assert.Equal(5, error.Column);
    }

    [Fact]
    public void ParseServers_ArgsIsAString_IsAnError()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"command": "npx", "args": "-y server"}}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a.args", "expected an array of strings but found a string");
    }

    [Fact]
    public void ParseServers_ArgNotAString_IsAnErrorAtItsIndex()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"command": "node", "args": ["x", 8080]}}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a.args[1]", "expected a string but found a number");
    }

    [Fact]
    public void ParseServers_EnabledIsNotABoolean_IsAnError()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"command": "node", "enabled": "yes"}}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a.enabled", "expected true or false but found a string");
    }

    [Fact]
    public void ParseServers_ServerIsNotAnObject_IsAnError()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": "npx server"}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a", "expected an object but found a string");
    }

    [Fact]
    public void ParseServers_BothCommandAndUrl_IsAnError()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"command": "node", "url": "https://h/mcp"}}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a", "has both 'command' and 'url'");
    }

    [Fact]
    public void ParseServers_NeitherCommandNorUrl_IsAnError()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"args": ["x"]}}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a", "has neither 'command' nor 'url'");
    }

    [Theory]
    [InlineData("ftp://host/mcp")]
    [InlineData("file:///tmp/mcp.sock")]
    [InlineData("/relative/mcp")]
    [InlineData("host:8080/mcp")]
    public void ParseServers_UrlWithoutHttpScheme_IsAnError(string url)
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers($$"""{"mcpServers": {"a": {"url": "{{url}}" } } }""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a.url", "is not an absolute http:// or https:// URL");
    }

    [Fact]
    public void ParseServers_UrlCarryingCredentials_IsNotEchoed()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"url": "ftp://user:pa55word@host/mcp"}}}""");

        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a.url", "is not an absolute http:// or https:// URL");
        Assert.DoesNotContain("pa55word", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("type", "websocket")]
    [InlineData("transport", "grpc")]
    public void ParseServers_UnknownTransport_IsAnError(string key, string value)
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers($$"""{"mcpServers": {"a": {"url": "https://h/mcp", "{{key}}": "{{value}}" } } }""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a." + key, $"'{value}' is not a transport");
    }

    [Fact]
    public void ParseServers_HttpTypeOnCommandServer_IsAnError()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"command": "node", "type": "http"}}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a.type", "says 'http' but the server has a 'command'");
    }

    [Fact]
    public void ParseServers_StdioTypeOnUrlServer_IsAnError()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"url": "https://h/mcp", "transport": "stdio"}}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a.transport", "says 'stdio' but the server has a 'url'");
    }

    [Fact]
    public void ParseServers_TypeAndTransportDisagree_IsAnError()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"url": "https://h/mcp", "type": "http", "transport": "sse"}}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a.transport", "disagree");
    }

    [Theory]
    [InlineData("gh tools")]
    [InlineData("gh.tools")]
    [InlineData("ünïcode")]
    [InlineData("a_prefix_that_is_much_too_long_for_any_client_x")]
    public void ParseServers_BadPrefix_IsAnError(string prefix)
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers($$"""{"mcpServers": {"a": {"command": "node", "prefix": "{{prefix}}" } } }""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a.prefix", "a prefix may hold only letters, digits, '_' and '-'");
    }

    [Theory]
    [InlineData("\"\"", "")]
    [InlineData("\"gh\"", "gh")]
    [InlineData("\"my-db_2\"", "my-db_2")]
    public void ParseServers_GoodPrefix_IsAccepted(string json, string expected)
    {
        ServerConfig server = ConfigFixture.SingleServer($$"""{"mcpServers": {"a": {"command": "node", "prefix": {{json}} } } }""");

        Assert.Equal(expected, server.Prefix);
        Assert.Equal(expected, server.EffectivePrefix);
    }

    [Theory]
    [InlineData("callTimeoutMs", "0", "out of range")]
    [InlineData("callTimeoutMs", "-5", "out of range")]
    [InlineData("startTimeoutMs", "86400001", "out of range")]
    [InlineData("startTimeoutMs", "1.5", "expected a whole number of milliseconds but found a number")]
    [InlineData("callTimeoutMs", "\"soon\"", "expected a whole number of milliseconds but found a string")]
    [InlineData("callTimeoutMs", "true", "expected a whole number of milliseconds but found true/false")]
    public void ParseServers_BadTimeout_IsAnError(string key, string value, string messageFragment)
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers($$"""{"mcpServers": {"a": {"command": "node", "{{key}}": {{value}} } } }""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a." + key, messageFragment);
    }

    [Fact]
    public void ParseServers_GoodTimeouts_AreMilliseconds()
    {
        ServerConfig server = ConfigFixture.SingleServer("""{"mcpServers": {"a": {"command": "node", "startTimeoutMs": 30000, "callTimeoutMs": "1"}}}""");

        Assert.Equal(TimeSpan.FromSeconds(30), server.StartTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(1), server.CallTimeout);
    }

    [Fact]
    public void ParseServers_UnknownServerKey_IsAWarningWithSuggestion()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"command": "node", "descripton": "typo"}}}""");

        Assert.True(result.Succeeded);
        ConfigDiagnostic warning = ConfigFixture.SingleWarning(result.Diagnostics, "$.mcpServers.a.descripton", "'descripton' is not a known server property and is ignored");
        Assert.Equal("did you mean 'description'?", warning.Fix);
        Assert.Equal(DiagnosticSeverity.Warning, warning.Severity);
    }

    [Fact]
    public void ParseServers_UnknownTopLevelKey_IsAWarning()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"command": "node"}}, "settings": {}}""");

        Assert.True(result.Succeeded);
        ConfigFixture.SingleWarning(result.Diagnostics, "$.settings", "is not a known servers file property");
    }

    [Fact]
    public void ParseServers_KeysOtherClientsWrite_AreAcceptedSilently()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""
            {"$schema": "x", "inputs": [], "mcpServers": {"a": {"command": "node", "autoApprove": [], "alwaysAllow": [], "envFile": ".env"}}}
            """);

        Assert.True(result.Succeeded);
        Assert.Empty(result.Diagnostics);
    }

    [Fact]
    public void ParseServers_VsCodeServersKeyWithType_IsAccepted()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""
            {
              "servers": {
                "local": {"type": "stdio", "command": "node", "args": ["server.js"]},
                "remote": {"type": "http", "url": "https://mcp.example.com/mcp"},
                "legacy": {"type": "sse", "url": "http://localhost:3001/sse"}
              }
            }
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Empty(result.Diagnostics);
        Assert.Equal(
            [("local", ServerTransport.Stdio), ("remote", ServerTransport.Http), ("legacy", ServerTransport.Sse)],
            result.Value!.Servers.Select(s => (s.Name, s.Transport)));
    }

    [Fact]
    public void ParseServers_BothMcpServersAndServers_IsAnError()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"command": "x"}}, "servers": {"b": {"command": "y"}}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.servers", "both 'mcpServers' and 'servers'");
    }

    [Fact]
    public void ParseServers_UrlWithoutType_IsStreamableHttp()
    {
        ServerConfig server = ConfigFixture.SingleServer("""{"mcpServers": {"a": {"url": "https://h/mcp", "headers": {"X-Key": "k"}}}}""");

        Assert.Equal(ServerTransport.Http, server.Transport);
        Assert.Equal("http", server.TransportName);
        Assert.Equal("k", server.Headers["X-Key"]);
    }

    [Fact]
    public void ParseServers_CommentsAndTrailingCommas_AreAccepted()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""
            {
              // a line comment
              "mcpServers": {
                /* a block comment */
                "a": {"command": "node", "args": ["x", "y",],},
              },
            }
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal(["x", "y"], Assert.Single(result.Value!.Servers).Args);
    }

    [Fact]
    public void ParseServers_ByteOrderMark_IsAccepted()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("\uFEFF{\"mcpServers\": {\"a\": {\"command\": \"node\"}}}");

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
    }

    [Fact]
    public void ParseServers_DisabledServer_IsKeptButDisabled()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""
            {"mcpServers": {"a": {"command": "x", "enabled": false}, "b": {"command": "y", "disabled": true}, "c": {"command": "z"}}}
            """);

        Assert.True(result.Succeeded);
        Assert.Equal([false, false, true], result.Value!.Servers.Select(s => s.Enabled));
    }

    [Fact]
    public void ParseServers_EnabledAndDisabledContradict_IsAnError()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"a": {"command": "x", "enabled": true, "disabled": true}}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.a.disabled", "contradict");
    }

    [Fact]
    public void ParseServers_ServersInFileOrder_AreKeptInThatOrder()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""
            {"mcpServers": {"zeta": {"command": "x"}, "alpha": {"command": "x"}, "mid": {"url": "https://h/mcp"}}}
            """);

        Assert.Equal(["zeta", "alpha", "mid"], result.Value!.Servers.Select(s => s.Name));
        Assert.Equal("$.mcpServers.alpha", result.Value.Servers[1].SourcePath);
    }

    [Fact]
    public void ParseServers_SixMistakes_ReportsAllSixInOnePass()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""
            {
              "mcpServers": {
                "both": {"command": "node", "url": "https://h/mcp"},
                "neither": {"description": "nothing to start"},
                "ftp": {"url": "ftp://h/mcp"},
                "socket": {"url": "https://h/mcp", "type": "websocket"},
                "spaced": {"command": "node", "prefix": "has space"},
                "slow": {"command": "node", "callTimeoutMs": 0},
                "fine": {"command": "node"}
              }
            }
            """);

        Assert.False(result.Succeeded);
        Assert.Null(result.Value);
        Assert.Equal(
            [
                "$.mcpServers.both",
                "$.mcpServers.neither",
                "$.mcpServers.ftp.url",
                "$.mcpServers.socket.type",
                "$.mcpServers.spaced.prefix",
                "$.mcpServers.slow.callTimeoutMs",
            ],
            result.Errors.Select(e => e.JsonPath));
        Assert.All(result.Errors, e =>
        {
            Assert.Equal(ConfigFixture.ServersFile, e.File);
            Assert.NotNull(e.Line);
            Assert.False(string.IsNullOrWhiteSpace(e.Fix));
        });
        Assert.Equal([3, 4, 5, 6, 7, 8], result.Errors.Select(e => e.Line ?? 0));
    }
}
