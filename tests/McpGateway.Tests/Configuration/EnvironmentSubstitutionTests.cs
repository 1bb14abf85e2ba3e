using McpGateway.Configuration;

namespace McpGateway.Tests.Configuration;

/// <summary><c>${VAR}</c> and <c>${VAR:-default}</c> in every string value of the servers file (and the rules file).</summary>
public sealed class EnvironmentSubstitutionTests
{
    private static ServerConfig StdioWithCommand(string command, params (string Name, string Value)[] variables) =>
        ConfigFixture.SingleServer($$"""{"mcpServers": {"s": {"command": "{{command}}" } } }""", ConfigFixture.Environment(variables));

    [Fact]
    public void ParseServers_SetVariable_IsSubstituted()
    {
        Assert.Equal("/opt/tools/node", StdioWithCommand("${TOOLS}/node", ("TOOLS", "/opt/tools")).Command);
    }

    [Fact]
    public void ParseServers_SeveralVariablesInOneString_AreAllSubstituted()
    {
        Assert.Equal("a-b-c", StdioWithCommand("${A}-${B}-c", ("A", "a"), ("B", "b")).Command);
    }

    [Fact]
    public void ParseServers_DefaultForUnsetVariable_IsUsed()
    {
        Assert.Equal("npx", StdioWithCommand("${RUNNER:-npx}").Command);
    }

    [Fact]
    public void ParseServers_DefaultForSetVariable_IsNotUsed()
    {
        Assert.Equal("bunx", StdioWithCommand("${RUNNER:-npx}", ("RUNNER", "bunx")).Command);
    }

    [Fact]
    public void ParseServers_DefaultForSetButEmptyVariable_IsUsed()
    {
        Assert.Equal("npx", StdioWithCommand("${RUNNER:-npx}", ("RUNNER", string.Empty)).Command);
    }

    [Fact]
    public void ParseServers_EmptyDefault_SubstitutesNothing()
    {
        ServerConfig server = ConfigFixture.SingleServer("""{"mcpServers": {"s": {"command": "node", "args": ["--flag${EXTRA:-}"]}}}""");

        Assert.Equal(["--flag"], server.Args);
    }

    [Fact]
    public void ParseServers_DoubleDollarBrace_IsALiteral()
    {
        ServerConfig server = ConfigFixture.SingleServer(
            """{"mcpServers": {"s": {"command": "sh", "args": ["-c", "echo $${HOME} costs $5 and $$"]}}}""",
            _ => throw new InvalidOperationException("no variable is referenced"));

        Assert.Equal(["-c", "echo ${HOME} costs $5 and $$"], server.Args);
    }

    [Fact]
    public void ParseServers_UnsetVariableWithoutDefault_IsAnErrorNamingVariableAndPath()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""
            {"mcpServers": {"github": {"command": "npx", "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"}}}}
            """);

        Assert.False(result.Succeeded);
        Assert.Null(result.Value);
        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.github.env.GITHUB_TOKEN", "'GITHUB_TOKEN' is not set");
        Assert.Equal(ConfigFixture.ServersFile, error.File);
        Assert.Equal(1, error.Line);
        Assert.Contains("${NAME:-default}", error.Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"mcpServers": {"s": {"command": "${MISSING}"}}}""", "command")]
    [InlineData("""{"mcpServers": {"s": {"url": "${MISSING}"}}}""", "url")]
    [InlineData("""{"mcpServers": {"s": {"command": "node", "cwd": "${MISSING}"}}}""", "cwd")]
    [InlineData("""{"mcpServers": {"s": {"command": "node", "type": "${MISSING}"}}}""", "type")]
    [InlineData("""{"mcpServers": {"s": {"command": "node", "enabled": "${MISSING}"}}}""", "enabled")]
    [InlineData("""{"mcpServers": {"s": {"command": "node", "callTimeoutMs": "${MISSING}"}}}""", "callTimeoutMs")]
    public void ParseServers_UnsetVariable_IsReportedOnceWithoutFollowOnErrors(string json, string key)
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers(json);

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.s." + key, "'MISSING' is not set");
    }

    [Fact]
    public void ParseRules_UnsetVariableInPattern_IsReportedOnceWithoutFollowOnErrors()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""{"agents": {"a": {"allow": {"servers": ["db", "${MISSING}"]}}}}""");

        ConfigFixture.SingleError(result.Diagnostics, "$.agents.a.allow.servers[1]", "'MISSING' is not set");
    }

    [Fact]
    public void ParseServers_SetButEmptyVariableWithoutDefault_IsEmpty()
    {
        ServerConfig server = ConfigFixture.SingleServer(
            """{"mcpServers": {"s": {"command": "node", "args": ["${EMPTY}"]}}}""",
            ConfigFixture.Environment(("EMPTY", string.Empty)));

        Assert.Equal([string.Empty], server.Args);
    }

    [Theory]
    [InlineData("${TOKEN", "no closing '}'")]
    [InlineData("prefix-${TOKEN:-x", "no closing '}'")]
    [InlineData("${1TOKEN}", "not a valid variable reference")]
    [InlineData("${MY-TOKEN}", "not a valid variable reference")]
    [InlineData("${}", "not a valid variable reference")]
    [InlineData("${:-fallback}", "not a valid variable reference")]
    [InlineData("${ TOKEN }", "not a valid variable reference")]
    public void ParseServers_MalformedReference_IsAnErrorAtItsPath(string value, string messageFragment)
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers(
            $$"""{"mcpServers": {"s": {"command": "node", "args": ["ok", "{{value}}"] } } }""",
            ConfigFixture.Environment(("TOKEN", "t")));

        ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.s.args[1]", messageFragment);
    }

    [Fact]
    public void ParseServers_StdioServer_SubstitutesInEveryStringValue()
    {
        ServerConfig server = ConfigFixture.SingleServer(
            """
            {"mcpServers": {"s": {
              "command": "${CMD}",
              "args": ["${ARG}", "--x=${ARG}"],
              "env": {"KEY": "${SECRET}"},
              "cwd": "${DIR}",
              "description": "runs ${CMD}",
              "prefix": "${PREFIX}",
              "type": "${TRANSPORT}",
              "enabled": "${ENABLED}",
              "callTimeoutMs": "${TIMEOUT}"
            }}}
            """,
            ConfigFixture.Environment(
                ("CMD", "node"), ("ARG", "server.js"), ("SECRET", "s3cr3t"), ("DIR", "/srv"), ("PREFIX", "px"),
                ("TRANSPORT", "stdio"), ("ENABLED", "false"), ("TIMEOUT", "1500")));

        Assert.Equal("node", server.Command);
        Assert.Equal(["server.js", "--x=server.js"], server.Args);
        Assert.Equal("s3cr3t", server.Env["KEY"]);
        Assert.Equal("/srv", server.WorkingDirectory);
        Assert.Equal("runs node", server.Description);
        Assert.Equal("px", server.Prefix);
        Assert.Equal(ServerTransport.Stdio, server.Transport);
        Assert.False(server.Enabled);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), server.CallTimeout);
    }

    [Fact]
    public void ParseServers_RemoteServer_SubstitutesInUrlHeadersAndDescription()
    {
        ServerConfig server = ConfigFixture.SingleServer(
            """
            {"mcpServers": {"r": {
              "url": "https://${HOST}/mcp",
              "headers": {"Authorization": "Bearer ${TOKEN}"},
              "description": "${DESCRIPTION:-remote tools}",
              "type": "${TRANSPORT}"
            }}}
            """,
            ConfigFixture.Environment(("HOST", "mcp.example.com"), ("TOKEN", "abc123"), ("TRANSPORT", "sse")));

        Assert.Equal(new Uri("https://mcp.example.com/mcp"), server.Url);
        Assert.Equal("Bearer abc123", server.Headers["Authorization"]);
        Assert.Equal("remote tools", server.Description);
        Assert.Equal(ServerTransport.Sse, server.Transport);
    }

    [Fact]
    public void ParseServers_SubstitutedUrlIsInvalid_DiagnosticDoesNotEchoTheValue()
    {
        const string secret = "s3cr3t-token-value";
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers(
            """{"mcpServers": {"r": {"url": "${REMOTE_URL}"}}}""",
            ConfigFixture.Environment(("REMOTE_URL", "ftp://" + secret + "/mcp")));

        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.r.url", "is not an absolute http:// or https:// URL");
        Assert.DoesNotContain(secret, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(secret, error.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseServers_PartlySubstitutedUrlIsInvalid_DiagnosticDoesNotEchoTheValue()
    {
        const string secret = "hunter2";
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers(
            """{"mcpServers": {"r": {"url": "mailto:${USER_SECRET}"}}}""",
            ConfigFixture.Environment(("USER_SECRET", secret)));

        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.r.url", "is not an absolute http:// or https:// URL");
        Assert.DoesNotContain(secret, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ParseServers_LiteralInvalidUrl_IsEchoedToHelpTheUser()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"r": {"url": "ftp://files.example.com/mcp"}}}""");

        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.r.url", "is not an absolute http:// or https:// URL");
        Assert.Contains("'ftp://files.example.com/mcp'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseServers_SubstitutedEnvValueOfWrongType_IsNotEchoed()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers(
            """{"mcpServers": {"s": {"command": "node", "env": {"A": "${SECRET}", "B": 42}}}}""",
            ConfigFixture.Environment(("SECRET", "p@ssw0rd")));

        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.s.env.B", "expected a string but found a number");
        Assert.DoesNotContain("42", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("p@ssw0rd", string.Join("\n", result.Diagnostics), StringComparison.Ordinal);
    }

    [Fact]
    public void ParseRules_Variables_AreSubstitutedToo()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules(
            """{"agents": {"a": {"allow": {"servers": ["${DB_SERVER:-db}", "${WEB_SERVER}"]}}}}""",
            ConfigFixture.Environment(("WEB_SERVER", "web")));

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal(["db", "web"], result.Value!.Agents[0].Allow.Servers!.Select(p => p.Pattern));
    }
}
