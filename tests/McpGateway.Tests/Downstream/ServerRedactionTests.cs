using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Tests.Configuration;

namespace McpGateway.Tests.Downstream;

/// <summary>
/// The one redaction of what a server says or is said about it (its stderr lines in <c>/status</c> and in the log, the
/// reason it failed): the values of its own entry are masked, then the line is a bounded excerpt.
/// </summary>
public sealed class ServerRedactionTests
{
    private static readonly ServerConfig s_local = ConfigFixture.SingleServer("""
        { "mcpServers": { "local": {
            "command": "/opt/servers/notes-server",
            "args": ["--label=teamnotes", "--db", "postgres://notes:hunter22@db/notes", "-v"],
            "env": { "API_TOKEN": "plainletters", "MODE": "on" },
            "cwd": "/srv/notes-workdir"
        } } }
        """);

    private static readonly ServerConfig s_remote = ConfigFixture.SingleServer("""
        { "mcpServers": { "remote": {
            "url": "https://tools.example.com/tenant-42/mcp",
            "headers": { "Authorization": "Bearer opaquevalue", "X-Tenant": "acme-tenant" }
        } } }
        """);

    [Theory]
    [InlineData("starting with plainletters", "starting with [redacted]")]
    [InlineData("connecting to postgres://notes:hunter22@db/notes now", "connecting to [redacted] now")]
    [InlineData("labels: --label=teamnotes", "labels: [redacted]")]
    [InlineData("cannot run /opt/servers/notes-server in /srv/notes-workdir", "cannot run [redacted] in [redacted]")]
    public void Line_MasksTheValuesOfALocalServersEntry(string line, string shown) =>
        Assert.Equal(shown, new ServerRedaction(s_local).Line(line));

    [Theory]
    [InlineData("401 from https://tools.example.com/tenant-42/mcp", "401 from [redacted]")]
    [InlineData("sent opaquevalue as the token", "sent [redacted] as the token")]
    [InlineData("Authorization: Bearer opaquevalue", "Authorization: [redacted]")]
    [InlineData("tenant acme-tenant unknown at tools.example.com", "tenant [redacted] unknown at [redacted]")]
    public void Line_MasksTheUrlAndHeaderValuesOfARemoteServer_AndACredentialWithoutItsScheme(string line, string shown) =>
        Assert.Equal(shown, new ServerRedaction(s_remote).Line(line));

    [Fact]
    public void Line_LeavesValuesUnderFourCharacters_WhichOrdinaryTextIsFullOf()
    {
        // "on" (MODE) and "-v" are in the entry, and in every other sentence.
        Assert.Equal("mode on, -v given", new ServerRedaction(s_local).Line("mode on, -v given"));
    }

    [Fact]
    public void Line_IsOneBoundedLine_WithCredentialLikeTextMaskedToo()
    {
        string line = "token=abc123 and a key sk1234567890abcdefghijklmnop\nnext line " + new string('x', 1000);

        string shown = new ServerRedaction(s_local).Line(line);

        Assert.StartsWith("token=[redacted] and a key [redacted] next line xxx", shown, StringComparison.Ordinal);
        Assert.Equal(ServerRedaction.MaxLineLength, shown.Length);
        Assert.EndsWith("…", shown, StringComparison.Ordinal);
    }
}
