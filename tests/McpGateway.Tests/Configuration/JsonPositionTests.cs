using McpGateway.Configuration;

namespace McpGateway.Tests.Configuration;

/// <summary>Line and column numbers count characters from 1, as editors do, whatever the encoding of the text before them.</summary>
public sealed class JsonPositionTests
{
    [Fact]
    public void ParseServers_SyntaxErrorAfterNonAsciiText_CountsCharactersNotBytes()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""
            {"mcpServers": {
              "a": {"description": "Café ☕", "command": "x"} "b": {}
            }}
            """);

        ConfigDiagnostic error = Assert.Single(result.Diagnostics);
        Assert.Contains("invalid JSON", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, error.Line);
        Assert.Equal(50, error.Column);
    }

    [Fact]
    public void ParseServers_ErrorAfterNonAsciiText_CountsCharactersNotBytes()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""
            {"mcpServers": {
              "a": {"description": "Café ☕", "command": "x", "url": "https://h/mcp"}, "ö": {"url": "ftp://h"}
            }}
            """);

        ConfigDiagnostic error = Assert.Single(result.Errors, e => e.JsonPath.EndsWith(".url", StringComparison.Ordinal));
        Assert.Equal(2, error.Line);
        Assert.Equal(81, error.Column);
    }

    [Fact]
    public void ParseServers_ByteOrderMark_IsNotCountedAsAColumn()
    {
        ConfigLoadResult<ServersConfig> withBom = ConfigFixture.Servers("\uFEFF{\"mcpServers\": {\"a\": {\"url\": \"ftp://h\"}}}");
        ConfigLoadResult<ServersConfig> withoutBom = ConfigFixture.Servers("{\"mcpServers\": {\"a\": {\"url\": \"ftp://h\"}}}");

        ConfigDiagnostic error = Assert.Single(withBom.Diagnostics);
        Assert.Equal((1, 23), (error.Line, error.Column));
        Assert.Equal((error.Line, error.Column), (withoutBom.Diagnostics[0].Line, withoutBom.Diagnostics[0].Column));
    }

    [Fact]
    public void ParseServers_SyntaxErrorOnFirstLineAfterByteOrderMark_IsNotShifted()
    {
        ConfigLoadResult<ServersConfig> withBom = ConfigFixture.Servers("\uFEFF{\"mcpServers\": {} \"x\": 1}");
        ConfigLoadResult<ServersConfig> withoutBom = ConfigFixture.Servers("{\"mcpServers\": {} \"x\": 1}");

        ConfigDiagnostic error = Assert.Single(withBom.Diagnostics);
        Assert.Equal((1, 19), (error.Line, error.Column));
        Assert.Equal((error.Line, error.Column), (withoutBom.Diagnostics[0].Line, withoutBom.Diagnostics[0].Column));
    }

    [Fact]
    public void ParseServers_WindowsLineEndings_CountLinesOnce()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("{\r\n  \"mcpServers\": {\r\n    \"a\": {\"url\": \"ftp://h\"}\r\n  }\r\n}\r\n");

        ConfigDiagnostic error = Assert.Single(result.Diagnostics);
        Assert.Equal((3, 11), (error.Line, error.Column));
    }
}
