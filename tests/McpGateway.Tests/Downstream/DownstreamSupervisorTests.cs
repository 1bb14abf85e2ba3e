using System.Threading.Channels;
using McpGateway.Configuration;
using McpGateway.Downstream;
using Microsoft.Extensions.Logging.Abstractions;

namespace McpGateway.Tests.Downstream;

/// <summary>
/// The supervisor's state machine on a fake clock and a fixed random source: every delay is read from the timer the
/// supervisor starts, and time moves only when the test advances it past that timer.
/// </summary>
public sealed class DownstreamSupervisorTests : IAsyncDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(17);
    private static readonly ServerConfig s_config = InMemoryDownstream.Config();

    private readonly TestClock _clock = new();
    private readonly InMemoryDownstream _downstream = new();
    private readonly Channel<DownstreamStatus> _statuses = Channel.CreateUnbounded<DownstreamStatus>();
    private readonly List<DownstreamSupervisor> _supervisors = [];
    private int _connects;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Backoff_DoublesFromTheInitialDelay_UpToTheCap()
    {
        DownstreamSupervisor supervisor = Start(new DownstreamOptions { InitialReconnectDelay = TimeSpan.FromSeconds(1), MaxReconnectDelay = TimeSpan.FromSeconds(8), Jitter = 0, CrashLoopFailures = 100 }, failures: int.MaxValue);

        int[] expected = [1, 2, 4, 8, 8, 8];
        for (int i = 0; i < expected.Length; i++)
        {
            TimeSpan delay = await NextDelayAsync();
            DownstreamStatus status = supervisor.Status;

            Assert.Equal(TimeSpan.FromSeconds(expected[i]), delay);
            Assert.Equal(DownstreamState.Restarting, status.State);
            Assert.Equal("failed to connect: connection refused", status.Reason);
            Assert.Equal(_clock.GetUtcNow() + delay, status.RetryAt);
            Assert.Equal(TestClock.Epoch, status.Since);
            Assert.Equal(i, status.Restarts);
            _clock.Advance(delay);
        }
    }

    [Theory]
    [InlineData(0.0, 8_000)]
    [InlineData(0.25, 9_000)]
    [InlineData(0.5, 10_000)]
    [InlineData(0.999, 11_996)]
    public async Task Jitter_SpreadsEachDelayByAtMostItsFractionEitherWay(double random, double expectedMs)
    {
        Start(new DownstreamOptions { InitialReconnectDelay = TimeSpan.FromSeconds(10), MaxReconnectDelay = TimeSpan.FromSeconds(10), Jitter = 0.2 }, failures: int.MaxValue, random: random);

        TimeSpan first = await NextDelayAsync();
        _clock.Advance(first);
        TimeSpan capped = await NextDelayAsync();

        Assert.Equal(expectedMs, first.TotalMilliseconds, precision: 6);
        Assert.InRange(first, TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(12));
        Assert.Equal(expectedMs, capped.TotalMilliseconds, precision: 6);
    }

    [Fact]
    public async Task CrashLoop_AfterKFailuresWithinTheWindow_IsFailed_AndRetriedOnlyAfterTheSlowDelay()
    {
        var options = new DownstreamOptions
        {
            InitialReconnectDelay = TimeSpan.FromSeconds(1),
            Jitter = 0,
            CrashLoopFailures = 3,
            CrashLoopWindow = TimeSpan.FromSeconds(60),
            CrashLoopDelay = TimeSpan.FromSeconds(300),
        };
        DownstreamSupervisor supervisor = Start(options, failures: 4);

        Assert.Equal(TimeSpan.FromSeconds(1), await NextDelayAsync());
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(2), await NextDelayAsync());
        _clock.Advance(TimeSpan.FromSeconds(2));
        TimeSpan slow = await NextDelayAsync();
        DownstreamStatus looping = supervisor.Status;

        Assert.Equal(TimeSpan.FromSeconds(300), slow);
        Assert.Equal(DownstreamState.Failed, looping.State);
        Assert.Equal("failed to connect: connection refused; crash loop (3 failures within 60 s)", looping.Reason);
        Assert.Equal(TestClock.Epoch.AddSeconds(3), looping.Since);
        Assert.Equal(TestClock.Epoch.AddSeconds(303), looping.RetryAt);
        Assert.Equal(2, looping.Restarts);

        // The slow retry fails too: the old failures are out of the window, so backoff starts again from the beginning.
        _clock.Advance(slow);
        Assert.Equal(TimeSpan.FromSeconds(1), await NextDelayAsync());
        Assert.Equal(DownstreamState.Restarting, supervisor.Status.State);
        Assert.Equal(4, _connects);

        _clock.Advance(TimeSpan.FromSeconds(1));
        DownstreamStatus ready = await NextStatusAsync(DownstreamState.Ready);

        Assert.Null(ready.Reason);
        Assert.Null(ready.RetryAt);
        Assert.Equal(4, ready.Restarts);
        Assert.Equal(TestClock.Epoch.AddSeconds(304), ready.Since);
    }

    [Fact]
    public async Task ServerThatDiesRightAfterConnecting_CountsAsAFailure_AndEntersTheCrashLoop()
    {
        var options = new DownstreamOptions { InitialReconnectDelay = TimeSpan.FromSeconds(1), Jitter = 0, CrashLoopFailures = 3, CrashLoopWindow = TimeSpan.FromSeconds(60) };
        DownstreamSupervisor supervisor = Start(options, failures: 2);

        _clock.Advance(await NextDelayAsync());
        _clock.Advance(await NextDelayAsync());
        await NextStatusAsync(DownstreamState.Ready);
        (await _downstream.NextServerAsync(Ct)).Die();
        TimeSpan delay = await NextDelayAsync();

        Assert.Equal(options.CrashLoopDelay, delay);
        Assert.Equal(DownstreamState.Failed, supervisor.Status.State);
        Assert.StartsWith("the connection closed", supervisor.Status.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectionThatStaysUpLongerThanTheWindow_StartsBackoffAgainFromTheInitialDelay()
    {
        var options = new DownstreamOptions { InitialReconnectDelay = TimeSpan.FromSeconds(1), Jitter = 0, CrashLoopFailures = 3, CrashLoopWindow = TimeSpan.FromSeconds(60) };
        DownstreamSupervisor supervisor = Start(options, failures: 2);

        _clock.Advance(await NextDelayAsync());
        _clock.Advance(await NextDelayAsync());
        DownstreamStatus ready = await NextStatusAsync(DownstreamState.Ready);
        _clock.Advance(TimeSpan.FromSeconds(61));
        (await _downstream.NextServerAsync(Ct)).Die();
        TimeSpan delay = await NextDelayAsync();
        DownstreamStatus lost = supervisor.Status;

        Assert.Equal(2, ready.Restarts);
        Assert.Equal(TimeSpan.FromSeconds(1), delay);
        Assert.Equal(DownstreamState.Restarting, lost.State);
        Assert.Equal(TestClock.Epoch.AddSeconds(64), lost.Since);
        Assert.Equal(TestClock.Epoch.AddSeconds(65), lost.RetryAt);

        _clock.Advance(delay);
        Assert.Equal(3, (await NextStatusAsync(DownstreamState.Ready)).Restarts);
    }

    [Fact]
    public async Task StartTimeout_OnTheInjectedClock_FailsTheAttempt_AndTheNextOneIsTried()
    {
        _downstream.Then(Attempt.Hang);
        DownstreamSupervisor supervisor = Start(new DownstreamOptions { Jitter = 0 }, failures: 0);

        TimeSpan timeout = await _clock.NextWaitAsync(Ct);
        Assert.Equal(DownstreamState.Starting, supervisor.Status.State);
        _clock.Advance(timeout);
        TimeSpan delay = await NextDelayAsync();
        DownstreamStatus timedOut = supervisor.Status;

        Assert.Equal(s_startTimeout, timeout);
        Assert.Equal(DownstreamState.Restarting, timedOut.State);
        Assert.Equal("did not become ready within 17 s", timedOut.Reason);
        Assert.Equal(TimeSpan.FromSeconds(1), delay);

        _clock.Advance(delay);
        Assert.Equal(1, (await NextStatusAsync(DownstreamState.Ready)).Restarts);
        Assert.Equal(2, _downstream.Attempts);
    }

    [Fact]
    public async Task StartAsync_CompletesWhenTheFirstAttemptFails()
    {
        DownstreamSupervisor supervisor = Start(new DownstreamOptions(), failures: int.MaxValue);

        await supervisor.StartAsync(Ct);

        Assert.Equal(DownstreamState.Restarting, supervisor.Status.State);
        Assert.Null(supervisor.Connection);
    }

    [Fact]
    public async Task ReconnectAsync_DropsTheConnection_AndConnectsAgainWithoutBackoff()
    {
        DownstreamSupervisor supervisor = Start(new DownstreamOptions { Jitter = 0 }, failures: 0);
        await supervisor.StartAsync(Ct);
        DownstreamConnection first = supervisor.Connection!;

        await supervisor.ReconnectAsync(supervisor.Connection!, "the server forgot the session (HTTP 404)", Ct);
        DownstreamStatus dropped = await NextStatusAsync(DownstreamState.Restarting);
        DownstreamStatus ready = await NextStatusAsync(DownstreamState.Ready);

        Assert.True(first.IsLost);
        Assert.NotSame(first, supervisor.Connection);
        Assert.Equal("the server forgot the session (HTTP 404)", dropped.Reason);
        Assert.Equal(_clock.GetUtcNow(), dropped.RetryAt);
        Assert.Equal(1, ready.Restarts);
        Assert.Equal(2, _downstream.Attempts);
    }

    [Fact]
    public async Task ReconnectAsync_WhenTheNewAttemptFails_CompletesWithTheServerRestarting()
    {
        _downstream.Then(Attempt.Serve, Attempt.Refuse);
        DownstreamSupervisor supervisor = Start(new DownstreamOptions { Jitter = 0 }, failures: 0);
        await supervisor.StartAsync(Ct);

        // Bounded only so that a supervisor that never answers fails this test instead of hanging it.
        await supervisor.ReconnectAsync(supervisor.Connection!, "the server forgot the session (HTTP 404)", Ct).Within("the reconnect to end", Ct);

        Assert.Equal(DownstreamState.Restarting, supervisor.Status.State);
        Assert.Equal("failed to connect: connection refused", supervisor.Status.Reason);
        Assert.Null(supervisor.Connection);
    }

    [Fact]
    public async Task Dispose_ClosesTheConnection_AndTheStateIsStopped()
    {
        DownstreamSupervisor supervisor = Start(new DownstreamOptions(), failures: 0);
        await supervisor.StartAsync(Ct);
        DownstreamConnection connection = supervisor.Connection!;

        await supervisor.DisposeAsync();

        Assert.True(connection.IsLost);
        Assert.Equal(DownstreamState.Stopped, supervisor.Status.State);
        Assert.Null(supervisor.Connection);
    }

    /// <summary>Starts a supervisor whose first <paramref name="failures"/> attempts are refused and the rest served in memory.</summary>
    private DownstreamSupervisor Start(DownstreamOptions options, int failures, double random = 0.5)
    {
        var supervisor = new DownstreamSupervisor(s_config.Name, options, s_startTimeout, _clock, ct => Connect(failures, ct), NullLogger.Instance, () => random);
        supervisor.StatusChanged += status => _statuses.Writer.TryWrite(status);
        _supervisors.Add(supervisor);
        _ = supervisor.StartAsync(Ct);
        return supervisor;
    }

    private Task<DownstreamConnection> Connect(int failures, CancellationToken cancellationToken) =>
        Interlocked.Increment(ref _connects) <= failures
            ? Task.FromException<DownstreamConnection>(new IOException("connection refused"))
            : _downstream.ConnectAsync(s_config, cancellationToken);

    /// <summary>The next reconnect delay the supervisor waits on (start timeouts skipped).</summary>
    private Task<TimeSpan> NextDelayAsync() => _clock.NextWaitOtherThanAsync(s_startTimeout, Ct);

    private async Task<DownstreamStatus> NextStatusAsync(DownstreamState state)
    {
        while (true)
        {
            DownstreamStatus status = await _statuses.Reader.ReadAsync(Ct);
            if (status.State == state)
            {
                return status;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (DownstreamSupervisor supervisor in _supervisors)
        {
            await supervisor.DisposeAsync();
        }

        await _downstream.DisposeAsync();
    }
}
