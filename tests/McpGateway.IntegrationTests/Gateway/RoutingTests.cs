using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Gateway;

/// <summary>
/// Fixture servers under names that defeat splitting on the separator (<c>my_server</c>, <c>brave-search</c>,
/// <c>x</c> next to <c>x_a</c>), one with its own prefix, and two with an empty prefix whose tool names collide.
/// Each fixture answers <c>pid</c> with its process id, which tells the servers apart.
/// </summary>
public sealed class RoutingGateway : IAsyncLifetime
{
    public const string Agent = "router";

    public const string Rules = """{ "agents": { "router": { "allow": { "servers": ["*"] } } } }""";

    internal InProcessGateway Gateway { get; private set; } = null!;

    internal McpClient Agents { get; private set; } = null!;

    /// <summary>The servers file: entries in this order, all the fixture.</summary>
    public static string Servers(params (string Name, string? Prefix)[] servers) =>
        TestServers.File([.. servers.Select(s =>
        {
            JsonObject entry = TestServers.Fixture();
            if (s.Prefix is not null)
            {
                entry["prefix"] = s.Prefix;
            }

            return (s.Name, entry);
        })]);

    public async ValueTask InitializeAsync()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string servers = Servers(("my_server", null), ("brave-search", null), ("x", null), ("x_a", null), ("custom", "cx"), ("plain", ""), ("twin", ""));
        Gateway = await InProcessGateway.StartAsync(servers, Rules, cancellationToken: ct);
        Agents = await Gateway.ConnectAsync(ServedTransport.Http, Agent, cancellationToken: ct);
    }

    public async ValueTask DisposeAsync() => await Gateway.DisposeAsync();
}

/// <summary>Exposed names and routing (DESIGN §5): exact lookup, never splitting on the separator; stable, deterministic names.</summary>
public sealed partial class RoutingTests(RoutingGateway fixture) : IClassFixture<RoutingGateway>
{
    [Theory]
    [InlineData("my_server_pid", "my_server")]
    [InlineData("brave-search_pid", "brave-search")]
    [InlineData("x_pid", "x")]
    [InlineData("x_a_pid", "x_a")]
    [InlineData("cx_pid", "custom")]
    [InlineData("pid", "plain")]
    public async Task CallTool_ExposedName_RoutesToItsServer(string exposedName, string server)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        string viaExposedName = (await fixture.Agents.CallRawAsync(exposedName, cancellationToken: ct)).FirstText();

        Assert.Equal(await PidOfAsync(fixture.Agents, server, ct), viaExposedName);
        Assert.Contains($"Agent '{RoutingGateway.Agent}' calls {server}/pid", fixture.Gateway.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallTool_ToolNameHoldingTheSeparator_RoutesByExactLookup()
    {
        // x_a_b is tool a_b of server x, x_a_a_b tool a_b of server x_a. Splitting at the last '_' gets x_a_b wrong
        // (server x_a, tool b), splitting at the first gets x_a_a_b wrong (server x, tool a_a_b): only an exact lookup
        // routes both.
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject xab = await fixture.Agents.CallRawAsync("x_a_b", cancellationToken: ct);
        JsonObject xaab = await fixture.Agents.CallRawAsync("x_a_a_b", cancellationToken: ct);

        Assert.Equal("a_b of the fixture", xab.FirstText());
        Assert.Equal("a_b of the fixture", xaab.FirstText());
        Assert.Contains($"Agent '{RoutingGateway.Agent}' calls x/a_b", fixture.Gateway.Logs.All, StringComparison.Ordinal);
        Assert.Contains($"Agent '{RoutingGateway.Agent}' calls x_a/a_b", fixture.Gateway.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListTools_ExposesServerNamePrefixes_CustomPrefixes_AndPlainNamesForAnEmptyPrefix()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        string[] names = await fixture.Agents.ListToolNamesAsync(ct);

        Assert.Contains("my_server_echo_args", names);
        Assert.Contains("brave-search_echo_args", names);
        Assert.Contains("x_a_b", names);
        Assert.Contains("x_a_a_b", names);
        Assert.Contains("cx_echo_args", names);
        Assert.DoesNotContain(names, n => n.StartsWith("custom_", StringComparison.Ordinal));
        Assert.Contains("echo_args", names);
        Assert.Contains("a_b", names);
        Assert.All(names, n => Assert.Matches(LegalName(), n));
        Assert.Equal(names.Length, names.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task ListTools_CollidingNames_FirstServerKeepsThePlainName_TheOtherGetsADistinctNameThatRoutesToIt()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        string[] names = await fixture.Agents.ListToolNamesAsync(ct);
        string twinPid = Assert.Single(names, n => n != "pid" && n.StartsWith("pid_", StringComparison.Ordinal));
        string viaTwinName = (await fixture.Agents.CallRawAsync(twinPid, cancellationToken: ct)).FirstText();
        string viaPlainName = (await fixture.Agents.CallRawAsync("pid", cancellationToken: ct)).FirstText();

        Assert.Equal(await PidOfAsync(fixture.Agents, "twin", ct), viaTwinName);
        Assert.Equal(await PidOfAsync(fixture.Agents, "plain", ct), viaPlainName);
        Assert.Matches(LegalName(), twinPid);
        Assert.Contains("Tool 'pid' of server 'twin' would be exposed as 'pid', which tool 'pid' of server 'plain' already has", fixture.Gateway.Logs.All, StringComparison.Ordinal);
        Assert.Contains($"it is exposed as '{twinPid}'", fixture.Gateway.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExposedNames_AreTheSameOnEveryStart_AndUnchangedByAnAddedServer()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string pair = RoutingGateway.Servers(("plain", ""), ("twin", ""));
        string withExtra = RoutingGateway.Servers(("extra", null), ("plain", ""), ("twin", ""));

        Started[] starts = await Task.WhenAll(StartAndListAsync(pair, ct), StartAndListAsync(pair, ct), StartAndListAsync(withExtra, ct));

        Assert.Contains(starts[0].Names, n => n.StartsWith("echo_args_", StringComparison.Ordinal));
        Assert.Equal(starts[0].Names, starts[1].Names);
        Assert.Equal(starts[0].Names, starts[2].Names.Where(n => !n.StartsWith("extra_", StringComparison.Ordinal)));
        Assert.Contains("extra_echo_args", starts[2].Names);
        Assert.All(starts, s => Assert.Equal("plain", s.OwnerOfPlainPid));
    }

    [Fact]
    public async Task ExposedNames_OnCollision_TheServerFirstInConfigurationOrderKeepsThePlainName()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        Started[] starts = await Task.WhenAll(
            StartAndListAsync(RoutingGateway.Servers(("plain", ""), ("twin", "")), ct),
            StartAndListAsync(RoutingGateway.Servers(("twin", ""), ("plain", "")), ct));

        Assert.Equal("plain", starts[0].OwnerOfPlainPid);
        Assert.Equal("twin", starts[1].OwnerOfPlainPid);
        Assert.All(starts, s => Assert.Contains("pid", s.Names));
        Assert.Contains("Tool 'pid' of server 'plain' would be exposed as 'pid', which tool 'pid' of server 'twin' already has", starts[1].Logs, StringComparison.Ordinal);
    }

    private sealed record Started(string[] Names, string OwnerOfPlainPid, string Logs);

    /// <summary>Starts a gateway, lists its tools, finds which server answers the plain name <c>pid</c>, and stops it.</summary>
    private static async Task<Started> StartAndListAsync(string servers, CancellationToken ct)
    {
        await using InProcessGateway gateway = await InProcessGateway.StartAsync(servers, RoutingGateway.Rules, cancellationToken: ct);
        McpClient client = await gateway.ConnectAsync(ServedTransport.Http, RoutingGateway.Agent, cancellationToken: ct);
        string[] names = await client.ListToolNamesAsync(ct);
        string plainPid = (await client.CallRawAsync("pid", cancellationToken: ct)).FirstText();
        string? owner = null;
        foreach (string server in gateway.Downstream.Servers.Select(s => s.Name))
        {
            if (await PidOfAsync(client, server, ct) == plainPid)
            {
                owner = server;
            }
        }

        return new Started(names, owner ?? "(none)", gateway.Logs.All);
    }

    /// <summary>The pid of a server's fixture process, asked through execute_tool, which routes by (server, tool) rather than by exposed name.</summary>
    private static async Task<string> PidOfAsync(McpClient client, string server, CancellationToken ct)
    {
        JsonObject result = await client.CallRawAsync("execute_tool", new JsonObject { ["server"] = server, ["tool"] = "pid" }, ct);
        Assert.NotEqual(true, result["isError"]?.GetValue<bool>());
        return result.FirstText();
    }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex LegalName();
}
