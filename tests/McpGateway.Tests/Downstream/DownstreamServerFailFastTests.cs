using System.Text.Json.Nodes;
using McpGateway.Downstream;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Tests.Downstream;

/// <summary>
/// Fail fast, with a server in memory and a fake clock that never moves unless the test moves it: a call in flight when
/// its server dies fails at once (its own timeout is a day away), a call after the loss is never sent, and the error
/// says when the server is tried again.
/// </summary>
public sealed class DownstreamServerFailFastTests : IAsyncDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(17);
    private static readonly TimeSpan s_aDay = TimeSpan.FromDays(1);

    private readonly TestClock _clock = new();
    private readonly InMemoryDownstream _downstream = new();
    private readonly DownstreamServer _server;

    public DownstreamServerFailFastTests()
    {
        var options = new DownstreamOptions { DefaultStartTimeout = s_startTimeout, InitialReconnectDelay = TimeSpan.FromSeconds(3), Jitter = 0 };
        _server = new DownstreamServer(InMemoryDownstream.Config(), options, NullLoggerFactory.Instance, _clock, _downstream);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CallInFlight_WhenTheServerDies_FailsAtOnce_NamingTheServer()
    {
        _downstream.Work = Hang;
        InMemoryServer live = await StartAsync();

        Task<JsonNode?> call = _server.CallToolAsync(Work(), s_aDay, Ct);
        await live.NextCallAsync(Ct);
        Assert.False(call.IsCompleted);
        live.Die();
        McpException error = await Assert.ThrowsAsync<McpException>(() => call);

        Assert.StartsWith("Server 'mem' stopped during the request (", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallsInFlight_WhenTheServerDies_AllFailAtOnce()
    {
        _downstream.Work = Hang;
        InMemoryServer live = await StartAsync();

        Task<JsonNode?>[] calls = [.. Enumerable.Range(0, 8).Select(_ => _server.CallToolAsync(Work(), s_aDay, Ct))];
        for (int i = 0; i < calls.Length; i++)
        {
            await live.NextCallAsync(Ct);
        }

        live.Die();
        foreach (Task<JsonNode?> call in calls)
        {
            McpException error = await Assert.ThrowsAsync<McpException>(() => call);
            Assert.StartsWith("Server 'mem' stopped during the request (", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task CallAfterTheLoss_FailsBeforeItIsSent_SayingInHowManySecondsTheServerIsTriedAgain()
    {
        InMemoryServer live = await StartAsync();

        live.Die();
        TimeSpan delay = await _clock.NextWaitOtherThanAsync(s_startTimeout, Ct);
        McpException first = await Assert.ThrowsAsync<McpException>(() => _server.CallToolAsync(Work(), s_aDay, Ct));
        _clock.Advance(TimeSpan.FromSeconds(1));
        McpException later = await Assert.ThrowsAsync<McpException>(() => _server.CallToolAsync(Work(), s_aDay, Ct));

        Assert.Equal(TimeSpan.FromSeconds(3), delay);
        Assert.Equal("Server 'mem' is not available right now; retrying in 3 s.", first.Message);
        Assert.Equal("Server 'mem' is not available right now; retrying in 2 s.", later.Message);
        Assert.Equal(0, live.Calls);
        Assert.Equal(1, _downstream.Attempts);
        Assert.False(_server.IsReady);
        Assert.Equal(DownstreamState.Restarting, _server.Status.State);
    }

    [Fact]
    public async Task ServerThatDied_WhileItsConnectionIsStillClosing_IsNotCalledReady_AndCallsAreToldWhenItIsTriedAgain()
    {
        InMemoryServer live = await StartAsync();
        Action release = live.HoldClose();

        live.Die();
        await live.Closing.WaitAsync(Ct);
        DownstreamStatus status = _server.Status;
        McpException error = await Assert.ThrowsAsync<McpException>(() => _server.CallToolAsync(Work(), s_aDay, Ct));
        release();

        Assert.Equal(DownstreamState.Restarting, status.State);
        Assert.Equal("Server 'mem' is not available right now; retrying in 3 s.", error.Message);
    }

    [Fact]
    public async Task ServerThatComesBack_IsCalledAgain_AndItsToolsWereKeptWhileItWasDown()
    {
        InMemoryServer live = await StartAsync();
        var back = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _server.Changed += s =>
        {
            if (s.IsReady && _downstream.Attempts == 2)
            {
                back.TrySetResult();
            }
        };

        live.Die();
        TimeSpan delay = await _clock.NextWaitOtherThanAsync(s_startTimeout, Ct);
        string[] toolsWhileDown = [.. _server.LastKnownTools.Select(t => t.Name)];
        _clock.Advance(delay);
        await back.Task.WaitAsync(Ct);
        InMemoryServer again = await _downstream.NextServerAsync(Ct);
        JsonNode? result = await _server.CallToolAsync(Work(), s_aDay, Ct);

        Assert.Equal(["work"], toolsWhileDown);
        Assert.Equal("done", result?["content"]?[0]?["text"]?.GetValue<string>());
        Assert.Equal(1, again.Calls);
        Assert.Equal(1, _server.Status.Restarts);
    }

    [Fact]
    public async Task CallWhileTheFirstAttemptRuns_SaysTheServerIsStarting()
    {
        _downstream.Then(Attempt.Hang);
        _ = _server.StartAsync(Ct);
        await _clock.NextWaitAsync(Ct);

        McpException error = await Assert.ThrowsAsync<McpException>(() => _server.CallToolAsync(Work(), s_aDay, Ct));

        Assert.Equal("Server 'mem' is starting; try again in a moment.", error.Message);
    }

    [Fact]
    public async Task CallToAServerThatHangs_FailsWithItsCallTimeout()
    {
        _downstream.Work = Hang;
        await StartAsync();

        McpProtocolException error = await Assert.ThrowsAsync<McpProtocolException>(() => _server.CallToolAsync(Work(), TimeSpan.FromMilliseconds(50), Ct));

        Assert.Equal((McpErrorCode)DownstreamErrors.RequestTimeoutErrorCode, error.ErrorCode);
        Assert.Equal("The request to server 'mem' timed out after 50 ms.", error.Message);
        Assert.True(_server.IsReady);
    }

    private async Task<InMemoryServer> StartAsync()
    {
        await _server.StartAsync(Ct);
        Assert.True(_server.IsReady, _server.Status.ToString());
        return await _downstream.NextServerAsync(Ct);
    }

    private static JsonObject Work() => new() { ["name"] = "work", ["arguments"] = new JsonObject() };

    private static async ValueTask<CallToolResult> Hang(InMemoryServer server, CallToolRequestParams request, CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return new CallToolResult();
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        await _downstream.DisposeAsync();
    }
}
