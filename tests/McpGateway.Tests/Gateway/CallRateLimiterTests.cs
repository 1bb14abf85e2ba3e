using McpGateway.Configuration;
using McpGateway.Gateway;

namespace McpGateway.Tests.Gateway;

/// <summary>
/// Calls per window per agent, with per-agent overrides and per-tool rules. The windows are an hour long, so none
/// replenishes while a test runs: every answer here is decided by counting alone.
/// </summary>
public sealed class CallRateLimiterTests
{
    private static readonly TimeSpan s_hour = TimeSpan.FromHours(1);

    [Fact]
    public void TryAcquire_PerAgent_AllowsTheLimit_ThenRefusesWithWhenToRetry()
    {
        using var limiter = new CallRateLimiter(new RateLimitSettings { Calls = 3, Window = s_hour });

        bool[] answers = [.. Enumerable.Range(0, 4).Select(attempt => limiter.TryAcquire("a", "db", "query", out _, out _))];
        limiter.TryAcquire("a", "db", "query", out TimeSpan retryAfter, out string? limitedBy);

        Assert.Equal([true, true, true, false], answers);
        Assert.InRange(retryAfter, TimeSpan.FromTicks(1), s_hour);
        Assert.Equal("3 calls per 3600 s", limitedBy);
    }

    [Fact]
    public void TryAcquire_OneAgentsBurst_NeverSpendsAnothersBudget()
    {
        using var limiter = new CallRateLimiter(new RateLimitSettings { Calls = 2, Window = s_hour });

        for (int i = 0; i < 10; i++)
        {
            limiter.TryAcquire("greedy", "db", "query", out _, out _);
        }

        Assert.True(limiter.TryAcquire("modest", "db", "query", out _, out _));
        Assert.True(limiter.TryAcquire("modest", "db", "query", out _, out _));
        Assert.False(limiter.TryAcquire("modest", "db", "query", out _, out _));
    }

    [Fact]
    public void TryAcquire_AgentOverrides_ReplaceTheCommonLimit_AndZeroMeansUnlimited()
    {
        var settings = new RateLimitSettings
        {
            Calls = 2,
            Window = s_hour,
            Agents = new Dictionary<string, int>(StringComparer.Ordinal) { ["tight"] = 1, ["free"] = 0 },
        };
        using var limiter = new CallRateLimiter(settings);

        int tight = Count(limiter, "tight", 5);
        int common = Count(limiter, "other", 5);
        int free = Count(limiter, "free", 50);
        limiter.TryAcquire("tight", "db", "query", out _, out string? limitedBy);

        Assert.Equal(1, tight);
        Assert.Equal(2, common);
        Assert.Equal(50, free);
        Assert.Equal("1 calls per 3600 s", limitedBy);
    }

    [Fact]
    public void TryAcquire_OverridesWithoutACommonLimit_LimitOnlyTheAgentsNamed()
    {
        using var limiter = new CallRateLimiter(new RateLimitSettings { Window = s_hour, Agents = new Dictionary<string, int>(StringComparer.Ordinal) { ["tight"] = 2 } });

        Assert.True(limiter.IsLimited);
        Assert.Equal(2, Count(limiter, "tight", 5));
        Assert.Equal(20, Count(limiter, "anyone", 20));
    }

    [Fact]
    public void TryAcquire_ToolRule_LimitsThatToolPerAgent_AndLeavesOtherToolsAlone()
    {
        var settings = new RateLimitSettings { Window = s_hour, Tools = [new ToolRateLimit("db", "drop_*", 1, "limits.calls.tools[0]")] };
        using var limiter = new CallRateLimiter(settings);

        bool first = limiter.TryAcquire("a", "db", "drop_table", out _, out _);
        bool second = limiter.TryAcquire("a", "db", "drop_index", out TimeSpan retryAfter, out string? limitedBy);
        bool otherAgent = limiter.TryAcquire("b", "db", "drop_table", out _, out _);
        int otherTool = Count(limiter, "a", 10, tool: "query");
        int otherServer = Count(limiter, "a", 10, server: "web", tool: "drop_cache");

        Assert.True(first);
        Assert.False(second);
        Assert.Equal("1 calls of this tool per 3600 s", limitedBy);
        Assert.InRange(retryAfter, TimeSpan.FromTicks(1), s_hour);
        Assert.True(otherAgent);
        Assert.Equal(10, otherTool);
        Assert.Equal(10, otherServer);
    }

    [Fact]
    public void TryAcquire_ToolRules_FirstMatchWins()
    {
        var settings = new RateLimitSettings
        {
            Window = s_hour,
            Tools = [new ToolRateLimit("db", "drop_*", 1, "limits.calls.tools[0]"), new ToolRateLimit("db", "*", 3, "limits.calls.tools[1]")],
        };
        using var limiter = new CallRateLimiter(settings);

        Assert.Equal(1, Count(limiter, "a", 5, tool: "drop_table"));
        Assert.Equal(3, Count(limiter, "a", 5, tool: "query"));
    }

    [Fact]
    public void TryAcquire_RefusedByAToolRule_DoesNotSpendTheAgentsBudget()
    {
        var settings = new RateLimitSettings { Calls = 2, Window = s_hour, Tools = [new ToolRateLimit("db", "drop_*", 1, "limits.calls.tools[0]")] };
        using var limiter = new CallRateLimiter(settings);

        bool drop = limiter.TryAcquire("a", "db", "drop_table", out _, out _);
        bool dropAgain = limiter.TryAcquire("a", "db", "drop_table", out _, out _);
        bool query = limiter.TryAcquire("a", "db", "query", out _, out _);
        bool queryAgain = limiter.TryAcquire("a", "db", "query", out _, out string? limitedBy);

        Assert.Equal([true, false, true, false], [drop, dropAgain, query, queryAgain]);
        Assert.Equal("2 calls per 3600 s", limitedBy);
    }

    [Fact]
    public void Unlimited_LimitsNothing()
    {
        Assert.False(CallRateLimiter.Unlimited.IsLimited);
        Assert.Equal(100, Count(CallRateLimiter.Unlimited, "a", 100));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(1001, 2)]
    [InlineData(59_500, 60)]
    public void RetrySeconds_IsAtLeastOne_AndRoundsUp(int milliseconds, int seconds) =>
        Assert.Equal(seconds, CallRateLimiter.RetrySeconds(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public void Message_NamesTheAgentTheLimitAndTheWait_AWindowOfAMinuteReadsAsSuch()
    {
        using var limiter = new CallRateLimiter(new RateLimitSettings { Calls = 1, Window = TimeSpan.FromMinutes(1) });
        limiter.TryAcquire("a", "db", "query", out _, out _);
        limiter.TryAcquire("a", "db", "query", out TimeSpan retryAfter, out string? limitedBy);

        Assert.Equal("1 calls per minute", limitedBy);
        Assert.Equal(
            $"Rate limit: agent 'a' may make 1 calls per minute. Retry after {CallRateLimiter.RetrySeconds(retryAfter)} s.",
            CallRateLimiter.Message("a", retryAfter, limitedBy));
    }

    private static int Count(CallRateLimiter limiter, string agent, int attempts, string server = "db", string tool = "query") =>
        Enumerable.Range(0, attempts).Count(attempt => limiter.TryAcquire(agent, server, tool, out _, out _));
}
