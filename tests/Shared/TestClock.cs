using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace McpGateway.Testing;

/// <summary>
/// A fake clock that also tells the test each time the code under test starts waiting on it (a delay, a timeout): the
/// test waits for that, reads how long the wait is, and only then advances the clock past it. Nothing sleeps, and no
/// advance can come before the timer it is meant for.
/// </summary>
internal sealed class TestClock : FakeTimeProvider
{
    public static readonly DateTimeOffset Epoch = new(2026, 7, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly Channel<TimeSpan> _waits = Channel.CreateUnbounded<TimeSpan>();

    public TestClock()
        : base(Epoch)
    {
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ITimer timer = base.CreateTimer(callback, state, dueTime, period);
        Record(dueTime);
        return new RecordingTimer(timer, this);
    }

    /// <summary>The next wait the code under test started (finite ones only), in the order they started.</summary>
    public ValueTask<TimeSpan> NextWaitAsync(CancellationToken cancellationToken) => _waits.Reader.ReadAsync(cancellationToken);

    /// <summary>The next wait that is not <paramref name="other"/> (a start timeout, say), skipping those.</summary>
    public async Task<TimeSpan> NextWaitOtherThanAsync(TimeSpan other, CancellationToken cancellationToken)
    {
        while (true)
        {
            TimeSpan wait = await NextWaitAsync(cancellationToken);
            if (wait != other)
            {
                return wait;
            }
        }
    }

    /// <summary>Completes when the code under test starts a wait of exactly <paramref name="dueTime"/> (a reconnect delay, say), skipping every other.</summary>
    public async Task NextWaitOfAsync(TimeSpan dueTime, CancellationToken cancellationToken)
    {
        while (await NextWaitAsync(cancellationToken) != dueTime)
        {
        }
    }

    private void Record(TimeSpan dueTime)
    {
        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            _waits.Writer.TryWrite(dueTime);
        }
    }

    private sealed class RecordingTimer(ITimer inner, TestClock clock) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            bool changed = inner.Change(dueTime, period);
            clock.Record(dueTime);
            return changed;
        }

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
