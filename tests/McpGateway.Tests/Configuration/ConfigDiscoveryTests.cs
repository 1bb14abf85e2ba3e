using McpGateway.Configuration;

namespace McpGateway.Tests.Configuration;

/// <summary>Where the servers and rules files are found when no flag names them, against a fake machine: names of the gateway's own only.</summary>
public sealed class ConfigDiscoveryTests
{
    private const string Work = "/work/project";
    private const string Home = "/home/dev";

    private readonly Dictionary<string, string> _variables = new(StringComparer.Ordinal);
    private readonly HashSet<string> _files = new(StringComparer.Ordinal);

    private DiscoveryEnvironment Environment => new(name => _variables.GetValueOrDefault(name), _files.Contains, Work, Home);

    [Fact]
    public void FindServersFile_EachSourceBeatsTheOnesAfterIt()
    {
        _variables[ConfigDiscovery.ServersVariable] = "/etc/gateway/servers.json";
        _files.UnionWith(["/etc/gateway/servers.json", "/work/project/mcp-gateway.servers.json", "/home/dev/.config/mcp-gateway/servers.json"]);

        AssertFound(ConfigDiscovery.FindServersFile("/flag/servers.json", Environment), "/flag/servers.json", "--config");
        AssertFound(ConfigDiscovery.FindServersFile(null, Environment), "/etc/gateway/servers.json", ConfigDiscovery.ServersVariable);

        _variables.Clear();
        AssertFound(ConfigDiscovery.FindServersFile(null, Environment), "/work/project/mcp-gateway.servers.json", "current directory");

        _files.Remove("/work/project/mcp-gateway.servers.json");
        AssertFound(ConfigDiscovery.FindServersFile(null, Environment), "/home/dev/.config/mcp-gateway/servers.json", "user configuration directory");
    }

    [Fact]
    public void FindServersFile_NeverFindsAClientsMcpJson_WhichOnlyTheFlagReads()
    {
        // ./.mcp.json is Claude Code's project file (it lists the gateway itself): never the gateway's by default.
        _files.UnionWith(["/work/project/.mcp.json", "/home/dev/.config/mcp-gateway/.mcp.json"]);

        Assert.False(ConfigDiscovery.FindServersFile(null, Environment).Found);
        AssertFound(ConfigDiscovery.FindServersFile(".mcp.json", Environment), "/work/project/.mcp.json", "--config");
    }

    [Fact]
    public void FindRulesFile_EachSourceBeatsTheOnesAfterIt()
    {
        _variables[ConfigDiscovery.RulesVariable] = "/etc/gateway/rules.json";
        _files.UnionWith(["/etc/gateway/rules.json", "/work/project/mcp-gateway.rules.json", "/work/project/.mcp-gateway-rules.json", "/home/dev/.config/mcp-gateway/rules.json", "/home/dev/.config/mcp-gateway/access_rules.json", "/home/dev/.config/mcp-gateway/.mcp-gateway-rules.json"]);

        AssertFound(ConfigDiscovery.FindRulesFile("/flag/rules.json", Environment), "/flag/rules.json", "--rules");
        AssertFound(ConfigDiscovery.FindRulesFile(null, Environment), "/etc/gateway/rules.json", ConfigDiscovery.RulesVariable);

        _variables.Clear();
        AssertFound(ConfigDiscovery.FindRulesFile(null, Environment), "/work/project/mcp-gateway.rules.json", "current directory");

        _files.Remove("/work/project/mcp-gateway.rules.json");
        AssertFound(ConfigDiscovery.FindRulesFile(null, Environment), "/work/project/.mcp-gateway-rules.json", "current directory");

        _files.Remove("/work/project/.mcp-gateway-rules.json");
        AssertFound(ConfigDiscovery.FindRulesFile(null, Environment), "/home/dev/.config/mcp-gateway/rules.json", "user configuration directory");

        _files.Remove("/home/dev/.config/mcp-gateway/rules.json");
        AssertFound(ConfigDiscovery.FindRulesFile(null, Environment), "/home/dev/.config/mcp-gateway/access_rules.json", "user configuration directory");

        _files.Remove("/home/dev/.config/mcp-gateway/access_rules.json");
        AssertFound(ConfigDiscovery.FindRulesFile(null, Environment), "/home/dev/.config/mcp-gateway/.mcp-gateway-rules.json", "user configuration directory");
    }

    [Fact]
    public void FindServersFile_RulesFileNamesInCurrentDirectory_AreNotServersFiles()
    {
        _files.UnionWith(["/work/project/mcp-gateway.rules.json", "/work/project/servers.json"]);

        Assert.False(ConfigDiscovery.FindServersFile(null, Environment).Found);
    }

    [Fact]
    public void FindRulesFile_ServersFileNames_AreNotRulesFiles()
    {
        _files.UnionWith(["/work/project/mcp-gateway.servers.json", "/home/dev/.config/mcp-gateway/servers.json"]);

        Assert.False(ConfigDiscovery.FindRulesFile(null, Environment).Found);
    }

    [Fact]
    public void FindServersFile_XdgConfigHomeSet_IsUsedInsteadOfDotConfig()
    {
        _variables["XDG_CONFIG_HOME"] = "/xdg";
        _files.UnionWith(["/xdg/mcp-gateway/servers.json", "/home/dev/.config/mcp-gateway/servers.json"]);

        AssertFound(ConfigDiscovery.FindServersFile(null, Environment), "/xdg/mcp-gateway/servers.json", "user configuration directory");
        Assert.Equal("/xdg/mcp-gateway", ConfigDiscovery.UserConfigDirectory(Environment));
    }

    [Fact]
    public void FindRulesFile_XdgConfigHomeSet_IsUsedInsteadOfDotConfig()
    {
        _variables["XDG_CONFIG_HOME"] = "/xdg";
        _files.Add("/home/dev/.config/mcp-gateway/access_rules.json");

        ConfigLocation location = ConfigDiscovery.FindRulesFile(null, Environment);

        Assert.False(location.Found);
        Assert.Contains("/xdg/mcp-gateway/access_rules.json", location.Searched);
    }

    [Fact]
    public void UserConfigDirectory_XdgConfigHomeEmpty_FallsBackToHome()
    {
        _variables["XDG_CONFIG_HOME"] = string.Empty;

        Assert.Equal("/home/dev/.config/mcp-gateway", ConfigDiscovery.UserConfigDirectory(Environment));
    }

    [Fact]
    public void FindServersFile_NothingFound_ListsEveryCandidateInOrder()
    {
        ConfigLocation location = ConfigDiscovery.FindServersFile(null, Environment);

        Assert.False(location.Found);
        Assert.Null(location.Path);
        Assert.Equal(
            ["/work/project/mcp-gateway.servers.json", "/home/dev/.config/mcp-gateway/servers.json"],
            location.Searched);
    }

    [Fact]
    public void FindRulesFile_NothingFound_ListsEveryCandidateInOrder()
    {
        ConfigLocation location = ConfigDiscovery.FindRulesFile(null, Environment);

        Assert.Null(location.Path);
        Assert.Equal(
            ["/work/project/mcp-gateway.rules.json", "/work/project/.mcp-gateway-rules.json", "/home/dev/.config/mcp-gateway/rules.json", "/home/dev/.config/mcp-gateway/access_rules.json", "/home/dev/.config/mcp-gateway/.mcp-gateway-rules.json"],
            location.Searched);
    }

    [Fact]
    public void FindServersFile_FlagNamesMissingFile_ReturnsItWithoutFallingBack()
    {
        _files.UnionWith(["/work/project/mcp-gateway.servers.json", "/home/dev/.config/mcp-gateway/servers.json"]);

        ConfigLocation location = ConfigDiscovery.FindServersFile("/nowhere/servers.json", Environment);

        AssertFound(location, "/nowhere/servers.json", "--config");
        Assert.Empty(location.Searched);
    }

    [Fact]
    public void FindRulesFile_VariableNamesMissingFile_ReturnsItWithoutFallingBack()
    {
        _variables[ConfigDiscovery.RulesVariable] = "/nowhere/rules.json";
        _files.Add("/work/project/mcp-gateway.rules.json");

        AssertFound(ConfigDiscovery.FindRulesFile(null, Environment), "/nowhere/rules.json", ConfigDiscovery.RulesVariable);
    }

    [Fact]
    public void FindServersFile_RelativeFlagAndVariable_AreResolvedAgainstCurrentDirectory()
    {
        AssertFound(ConfigDiscovery.FindServersFile("conf/servers.json", Environment), "/work/project/conf/servers.json", "--config");

        _variables[ConfigDiscovery.ServersVariable] = "../shared/servers.json";
        AssertFound(ConfigDiscovery.FindServersFile(null, Environment), "/work/shared/servers.json", ConfigDiscovery.ServersVariable);
    }

    [Fact]
    public void FindServersFile_EmptyFlagAndVariable_AreIgnored()
    {
        _variables[ConfigDiscovery.ServersVariable] = string.Empty;
        _files.Add("/work/project/mcp-gateway.servers.json");

        AssertFound(ConfigDiscovery.FindServersFile(string.Empty, Environment), "/work/project/mcp-gateway.servers.json", "current directory");
    }

    private static void AssertFound(ConfigLocation location, string path, string origin)
    {
        Assert.True(location.Found);
        Assert.Equal(path, location.Path);
        Assert.Equal(origin, location.Origin);
    }
}
