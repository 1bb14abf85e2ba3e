using System.Threading.RateLimiting;
using McpGateway.Configuration;
using McpGateway.Gateway;
using Microsoft.Extensions.Time.Testing;

namespace McpGateway.IntegrationTests.Scale;

/// <summary>
/// The gateway's limiters over the shared store, two replicas on one real redis-server: the call limiter's agent and
/// tool limits, the session limiter (and its hot-reloaded limits), and the HTTP request window; each falls back to
/// its replica's own counts while Redis is down. Windows are an hour long.
/// </summary>
public sealed class SharedLimiterTests
{
    private static readonly TimeSpan s_hour = TimeSpan.FromHours(1);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CallLimiter_ToolAndAgentLimits_AreCountedAcrossReplicas_AndARefusedCallSpendsNeither()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server);
        await using (a)
        await using (b)
        {
            var settings = new RateLimitSettings { Window = s_hour, Calls = 3, Tools = [new ToolRateLimit("db", "drop_*", 1, "$.limits.rate.tools.db.drop_*")] };
            using var onA = new CallRateLimiter(settings, a.Windows);
            using var onB = new CallRateLimiter(settings, b.Windows);

            RateDecision drop = await onA.AcquireAsync("alice", "db", "drop_table");
            RateDecision dropAgain = await onB.AcquireAsync("alice", "db", "drop_index");
            RateDecision[] queries = [await onB.AcquireAsync("alice", "db", "query"), await onA.AcquireAsync("alice", "db", "query")];
            RateDecision spent = await onB.AcquireAsync("alice", "db", "query");
            RateDecision othersDrop = await onB.AcquireAsync("bob", "db", "drop_table");

            Assert.True(drop.Allowed);
            Assert.False(dropAgain.Allowed);
            Assert.Equal("1 calls of this tool per 3600 s", dropAgain.LimitedBy);
            Assert.InRange(dropAgain.RetryAfter, TimeSpan.FromTicks(1), s_hour);

            // The refused drop spent nothing of alice's 3: the drop and two queries.
            Assert.All(queries, q => Assert.True(q.Allowed));
            Assert.False(spent.Allowed);
            Assert.Equal("3 calls per 3600 s", spent.LimitedBy);
            Assert.True(othersDrop.Allowed);
        }
    }

    [Fact]
    public async Task CallLimiter_WhileRedisIsDown_CountsInTheReplicasOwnWindows()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server);
        await using (a)
        await using (b)
        {
            var settings = new RateLimitSettings { Window = s_hour, Calls = 2 };
            using var onA = new CallRateLimiter(settings, a.Windows);
            using var onB = new CallRateLimiter(settings, b.Windows);
            Assert.True((await onA.AcquireAsync("alice", "db", "query")).Allowed);
            Assert.True((await onB.AcquireAsync("alice", "db", "query")).Allowed);
            Assert.False((await onA.AcquireAsync("alice", "db", "query")).Allowed);

            await server.KillAsync();
            RateDecision[] aloneOnA = [await onA.AcquireAsync("alice", "db", "query"), await onA.AcquireAsync("alice", "db", "query"), await onA.AcquireAsync("alice", "db", "query")];

            Assert.Equal([true, true, false], aloneOnA.Select(d => d.Allowed));
            Assert.Equal("2 calls per 3600 s", aloneOnA[2].LimitedBy);
        }
    }

    [Fact]
    public async Task SessionLimiter_CountsBothReplicas_FollowsAReload_AndFallsBackToItsOwnCountsWhileRedisIsDown()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server);
        await using (a)
        await using (b)
        {
            var limits = new SessionLimitSettings { Total = 100, PerAgent = 3, PerClientAddress = 100 };
            var onA = new SessionLimiter(limits, a.Slots);
            var onB = new SessionLimiter(limits, b.Slots);

            (IDisposable? Slot, string? Refusal)[] admitted = [await onA.TryAdmitAsync("x", "10.0.0.1"), await onB.TryAdmitAsync("x", "10.0.0.2")];
            onA.Apply(limits with { PerAgent = 2 });
            (IDisposable? Slot, string? Refusal) afterReload = await onA.TryAdmitAsync("x", "10.0.0.3");

            await server.KillAsync();
            await a.WaitUntilAvailableAsync(false, Ct);
            (IDisposable? Slot, string? Refusal) aloneOnA = await onA.TryAdmitAsync("x", "10.0.0.3");
            (IDisposable? Slot, string? Refusal) aloneOverOnA = await onA.TryAdmitAsync("x", "10.0.0.3");

            Assert.All(admitted, r => Assert.NotNull(r.Slot));
            Assert.Null(afterReload.Slot);
            Assert.Equal("agent 'x' has 2 open sessions, the limit per agent (limits.sessions.perAgent)", afterReload.Refusal);

            // Alone, A counts its own: one x session, room for one more.
            Assert.NotNull(aloneOnA.Slot);
            Assert.Null(aloneOverOnA.Slot);
            Assert.Equal(2, onA.Total);
            Assert.Equal(2, a.Slots.Count);

            admitted[0].Slot!.Dispose();
            aloneOnA.Slot!.Dispose();
            Assert.Equal((0, 0), (onA.Total, a.Slots.Count));
        }
    }

    [Fact]
    public async Task SharedWindowLimiter_DecidesAsynchronouslyInTheStore_AndAloneWhileItIsDown()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server);
        await using (a)
        await using (b)
        {
            var options = new FixedWindowRateLimiterOptions { PermitLimit = 2, Window = s_hour, QueueLimit = 0 };
            using var onA = new SharedWindowLimiter(a.Windows, "requests:{client}", options);
            using var onB = new SharedWindowLimiter(b.Windows, "requests:{client}", options);

            using RateLimitLease attempted = onA.AttemptAcquire();
            using RateLimitLease first = await onA.AcquireAsync(cancellationToken: Ct);
            using RateLimitLease second = await onB.AcquireAsync(cancellationToken: Ct);
            using RateLimitLease over = await onA.AcquireAsync(cancellationToken: Ct);

            await server.KillAsync();
            await a.WaitUntilAvailableAsync(false, Ct);
            using RateLimitLease alone = onA.AttemptAcquire();

            Assert.False(attempted.IsAcquired);
            Assert.True(first.IsAcquired);
            Assert.True(second.IsAcquired);
            Assert.False(over.IsAcquired);
            Assert.True(over.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter));
            Assert.InRange(retryAfter, TimeSpan.FromTicks(1), s_hour);
            Assert.True(alone.IsAcquired);
        }
    }

    private static async Task<(RedisReplica A, RedisReplica B)> TwoReplicasAsync(RedisServer server)
    {
        string prefix = RedisReplica.NewPrefix();
        var time = new FakeTimeProvider();
        RedisReplica a = await RedisReplica.StartAsync(server, prefix, time, Ct);
        RedisReplica b = await RedisReplica.StartAsync(server, prefix, time, Ct);
        await a.WaitUntilAvailableAsync(true, Ct);
        await b.WaitUntilAvailableAsync(true, Ct);
        return (a, b);
    }
}
