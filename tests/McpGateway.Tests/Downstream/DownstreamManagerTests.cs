using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.Downstream;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Tests.Downstream;

/// <summary>
/// A new servers file applied to running servers, in memory: an unchanged server keeps its connection, a changed one
/// restarts, a removed one stops (a call in flight on it fails at once, naming it), an added one starts.
/// </summary>
public sealed class DownstreamManagerTests : IAsyncDisposable
{
    private readonly InMemoryDownstream _downstream = new();
    private readonly DownstreamManager _manager;
    private readonly Dictionary<string, InMemoryServer> _first = new(StringComparer.Ordinal);

    public DownstreamManagerTests()
    {
        _downstream.Work = async (server, request, cancellationToken) =>
        {
            if (server.Name == "drop")
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return new CallToolResult { Content = [new TextContentBlock { Text = server.Name }] };
        };
        _manager = new DownstreamManager(File(Config("keep"), Config("change"), Config("drop")), new DownstreamOptions(), NullLoggerFactory.Instance, new TestClock(), _downstream);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Apply_KeepsUnchanged_RestartsChanged_StopsRemoved_StartsAdded()
    {
        await StartAsync();
        DownstreamServer keep = _manager.Find("keep")!;
        DownstreamServer change = _manager.Find("change")!;
        Task<JsonNode?> inFlight = _manager.Find("drop")!.CallToolAsync(Work(), TimeSpan.FromDays(1), Ct);
        await _first["drop"].NextCallAsync(Ct);

        ServersChange applied = await _manager.ApplyAsync(File(Config("keep"), Config("change") with { Args = ["--v2"] }, Config("new")), Ct);
        McpException stopped = await Assert.ThrowsAsync<McpException>(() => inFlight);
        await UntilAsync(() => _manager.Servers.All(s => s.IsReady));

        Assert.Equal(["new"], applied.Added);
        Assert.Equal(["change"], applied.Restarted);
        Assert.Equal(["drop"], applied.Removed);
        Assert.Equal(["keep"], applied.Kept);
        Assert.Equal("Server 'drop' stopped during the request (the server stopped).", stopped.Message);
        Assert.Equal(["keep", "change", "new"], _manager.Servers.Select(s => s.Name));
        Assert.Same(keep, _manager.Find("keep"));
        Assert.NotSame(change, _manager.Find("change"));
        Assert.Null(_manager.Find("drop"));
        Assert.Equal(1, _downstream.AttemptsFor("keep"));
        Assert.Equal(2, _downstream.AttemptsFor("change"));
        Assert.Equal(1, _downstream.AttemptsFor("new"));
        Assert.Equal(DownstreamState.Stopped, change.Status.State);
        Assert.Equal("keep", (await keep.CallToolAsync(Work(), TimeSpan.FromDays(1), Ct))?["content"]?[0]?["text"]?.GetValue<string>());
    }

    [Fact]
    public async Task Apply_DisabledServer_IsStopped_AndAServerTurnedOnAgainStarts()
    {
        await StartAsync();

        ServersChange off = await _manager.ApplyAsync(File(Config("keep"), Config("change") with { Enabled = false }, Config("drop")), Ct);
        ServersChange on = await _manager.ApplyAsync(File(Config("keep"), Config("change"), Config("drop")), Ct);
        await UntilAsync(() => _manager.Servers.All(s => s.IsReady));

        Assert.Equal(["change"], off.Removed);
        Assert.Equal(["change"], on.Added);
        Assert.Equal(2, _downstream.AttemptsFor("change"));
        Assert.Equal(1, _downstream.AttemptsFor("keep"));
    }

    private async Task StartAsync()
    {
        await _manager.StartAsync(Ct);
        for (int i = 0; i < 3; i++)
        {
            InMemoryServer server = await _downstream.NextServerAsync(Ct);
            _first[server.Name] = server;
        }

        Assert.All(_manager.Servers, s => Assert.True(s.IsReady));
    }

    /// <summary>Waits until <paramref name="condition"/> holds, checking it whenever the manager says something changed.</summary>
    private async Task UntilAsync(Func<bool> condition, string what = "the manager's servers to reach the expected state")
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            if (condition())
            {
                reached.TrySetResult();
            }
        }

        _manager.Changed += Check;
        try
        {
            Check();
            await reached.Task.Within(what, Ct);
        }
        finally
        {
            _manager.Changed -= Check;
        }
    }

    private static ServerConfig Config(string name) => InMemoryDownstream.Config(name);

    private static ServersConfig File(params ServerConfig[] servers) => new() { Servers = servers };

    private static JsonObject Work() => new() { ["name"] = "work", ["arguments"] = new JsonObject() };

    public async ValueTask DisposeAsync()
    {
        await _manager.DisposeAsync();
        await _downstream.DisposeAsync();
    }
}
