using System.Globalization;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Resilience;

/// <summary>
/// No orphans, ever, with the real executable and a server that does everything to survive: it ignores SIGTERM and the
/// end of its stdin, and has a child of its own that ignores SIGTERM too. Whether the gateway is killed with SIGKILL,
/// stopped with SIGTERM, or reloaded without the server, the server, its child and the fixture it runs are gone
/// afterwards, and the gateway leaves no zombie of its own.
/// </summary>
public sealed class OrphanTests
{
    private const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task GatewayKilledWithSigkill_LeavesNoServerProcessBehind_NotEvenOneThatIgnoresTerm()
    {
        string marker = NewMarker();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(TestServers.File(("stubborn", Stubborn(marker))), Rules, ["--agent", "ops"], Ct);
        Started started = await StartedAsync(gateway, marker);

        await gateway.SignalAsync("KILL", Ct);
        await gateway.WaitForExitAsync(Ct);
        int[] left = await ProcessProbe.WaitForExitAsync(started.All, Ct);

        Assert.True(left.Length == 0, $"outlived the gateway: {Describe(left)}");
        Assert.True(started.Watchdogs.Length > 0, "the gateway started no watchdog");
        AssertNoZombieOf(gateway.Id, started.All);
    }

    [Fact]
    public async Task GatewayStoppedWithSigterm_StopsAServerThatIgnoresTerm_AndItsChild()
    {
        string marker = NewMarker();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(TestServers.File(("stubborn", Stubborn(marker))), Rules, ["--agent", "ops"], Ct);
        Started started = await StartedAsync(gateway, marker);

        await gateway.SignalAsync("TERM", Ct);
        int exitCode = await gateway.WaitForExitAsync(Ct);
        int[] left = await ProcessProbe.WaitForExitAsync(started.All, Ct);

        Assert.Equal(0, exitCode);
        Assert.True(left.Length == 0, $"outlived the gateway: {Describe(left)}");
        AssertNoZombieOf(gateway.Id, started.All);
    }

    [Fact]
    public async Task ReloadWithoutTheServer_StopsItsWholeProcessGroup_AndReapsIt_WhileTheOtherServersRunOn()
    {
        string marker = NewMarker();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(
            TestServers.File(("stubborn", Stubborn(marker)), ("keep", TestServers.Fixture())),
            Rules,
            ["--agent", "ops"],
            Ct);
        Started started = await StartedAsync(gateway, marker);
        int kept = RawPid(await gateway.RequestAsync(2, "tools/call", new JsonObject { ["name"] = "keep_pid" }, Ct));

        File.WriteAllText(Path.Combine(gateway.Directory, "servers.json"), TestServers.File(("keep", TestServers.Fixture())));
        await gateway.SignalAsync("HUP", Ct);
        await gateway.Stderr.WaitForAsync(line => line.Contains("Reloaded: ", StringComparison.Ordinal), "the reload's 'Reloaded: ' line", Ct);
        int[] left = await ProcessProbe.WaitForExitAsync(started.Group, Ct);
        int keptAfter = RawPid(await gateway.RequestAsync(3, "tools/call", new JsonObject { ["name"] = "keep_pid" }, Ct));

        Assert.True(left.Length == 0, $"outlived the reload: {Describe(left)}");
        Assert.False(gateway.HasExited);
        AssertNoZombieOf(gateway.Id, started.Group);
        Assert.Null(Stat(started.Server));
        Assert.Equal(kept, keptAfter);
    }

    /// <summary>
    /// A stdio server that will not go: the shell (the process the gateway starts) ignores SIGTERM and never reads its
    /// stdin; it starts a child (a sleep whose unusual length marks it) that ignores SIGTERM, then runs the fixture, and
    /// after the fixture exits waits for the child forever.
    /// </summary>
    private static JsonObject Stubborn(string marker) => new()
    {
        ["command"] = "sh",
        ["args"] = new JsonArray("-c", $"trap '' TERM; sleep {marker} & \"$0\"; wait", RepoPaths.FixtureServer),
    };

    private static string NewMarker() => "1000000." + Random.Shared.Next(100_000, 999_999).ToString(CultureInfo.InvariantCulture);

    /// <summary>The processes a stubborn server started, found while the gateway runs.</summary>
    private sealed record Started(int Server, int Child, int Fixture, int[] Watchdogs)
    {
        /// <summary>The server's processes: the shell the gateway started, its child, the fixture.</summary>
        public int[] Group => [Server, Child, Fixture];

        /// <summary>With the gateway's watchdog, which outlives the gateway only long enough to stop what it left.</summary>
        public int[] All => [.. Group, .. Watchdogs];
    }

    private static async Task<Started> StartedAsync(GatewayProcess gateway, string marker)
    {
        await gateway.InitializeAsync(Ct);
        int fixture = RawPid(await gateway.RequestAsync(1, "tools/call", new JsonObject { ["name"] = "stubborn_pid" }, Ct));
        int[] marked = ProcessProbe.FindByCommandLine(marker);
        int server = Assert.Single(marked, pid => Stat(pid)?.Parent == gateway.Id);
        int child = Assert.Single(marked, pid => pid != server);
        int[] watchdogs = [.. ProcessProbe.FindByCommandLine("while read -r verb group").Where(pid => Stat(pid)?.Parent == gateway.Id)];

        Assert.Equal(server, Stat(child)?.Parent);
        Assert.Equal(server, Stat(fixture)?.Parent);
        return new Started(server, child, fixture, watchdogs);
    }

    /// <summary>A process the gateway leaves as a zombie is one it started and never reaped: its parent is still the gateway.</summary>
    private static void AssertNoZombieOf(int gateway, int[] pids)
    {
        (int Pid, char State, int Parent)[] zombies = [.. pids.Select(pid => (pid, Stat(pid))).Where(p => p.Item2 is { State: 'Z' }).Select(p => (p.pid, p.Item2!.Value.State, p.Item2!.Value.Parent))];
        Assert.True(!zombies.Any(z => z.Parent == gateway), $"zombies of the gateway: {string.Join(", ", zombies)}");
    }

    /// <summary>The state and parent of a process from /proc/PID/stat, or null when there is no such process (reaped).</summary>
    private static (char State, int Parent)? Stat(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");

            // "pid (comm) S ppid ...": the fields follow the last ')', since comm may itself hold parentheses.
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return null;
        }
    }

    private static string Describe(int[] pids) => string.Join(", ", pids.Select(pid =>
    {
        string commandLine;
        try
        {
            commandLine = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline").Replace('\0', ' ');
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            commandLine = "?";
        }

        return $"{pid} ({Stat(pid)?.State}) {commandLine}";
    }));

    private static int RawPid(JsonObject response) =>
        int.Parse(((JsonObject)response["result"]!).FirstText(), CultureInfo.InvariantCulture);
}
