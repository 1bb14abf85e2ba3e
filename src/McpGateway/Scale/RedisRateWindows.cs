using McpGateway.Gateway;
using StackExchange.Redis;

namespace McpGateway.Scale;

/// <summary>
/// Fixed windows in Redis: one counter per window, created by the first take and expiring (by Redis's own clock)
/// when the window ends, so every replica counts in the same window and none has to agree on the time.
/// </summary>
/// <remarks>
/// A script of our own rather than the RedisRateLimiting package (1.2.1, which does work with StackExchange.Redis
/// 3.x): its keys are fixed (<c>rl:fw:{key}</c>), so <c>redis.keyPrefix</c> and ACL key patterns could not cover
/// them; its windows start and end by each replica's clock, so a replica whose clock runs ahead resets a window for
/// all; it gives Retry-After in whole seconds under a metadata name of its own; and its synchronous acquire always
/// refuses while a Redis failure is an exception, so a fallback wrapper was needed anyway. This script also takes
/// from the tool's and the agent's window at once, all or none, in one round trip.
/// </remarks>
internal sealed class RedisRateWindows(RedisConnection redis) : ISharedRateWindows
{
    // KEYS: one counter per window. ARGV[1]: the window in ms; ARGV[1 + i]: the limit of KEYS[i].
    // Returns {0, 0} when one was taken from every window, else {i, ms until KEYS[i]'s window ends}.
    private const string TakeScript = """
        for i, key in ipairs(KEYS) do
          local count = tonumber(redis.call('GET', key) or '0')
          if count >= tonumber(ARGV[i + 1]) then
            return {i, redis.call('PTTL', key)}
          end
        end
        for _, key in ipairs(KEYS) do
          if redis.call('INCR', key) == 1 then
            redis.call('PEXPIRE', key, ARGV[1])
          end
        end
        return {0, 0}
        """;

    public bool IsAvailable => redis.IsAvailable;

    public async ValueTask<SharedTake?> TryTakeAsync(IReadOnlyList<SharedWindow> windows, TimeSpan window)
    {
        if (redis.Database is not { } database)
        {
            return null;
        }

        var keys = new RedisKey[windows.Count];
        var values = new RedisValue[windows.Count + 1];
        values[0] = (long)window.TotalMilliseconds;
        for (int i = 0; i < windows.Count; i++)
        {
            keys[i] = redis.Key(windows[i].Name);
            values[i + 1] = windows[i].Limit;
        }

        try
        {
            var result = (RedisResult[])(await database.ScriptEvaluateAsync(TakeScript, keys, values))!;
            int refused = (int)result[0];
            if (refused == 0)
            {
                return new SharedTake(-1, TimeSpan.Zero);
            }

            // A counter without an expiry cannot be made by the script; should one exist, the whole window is the honest answer.
            long remaining = (long)result[1];
            return new SharedTake(refused - 1, remaining > 0 ? TimeSpan.FromMilliseconds(remaining) : window);
        }
        catch (Exception ex) when (RedisConnection.IsFailure(ex))
        {
            redis.Failed(ex);
            return null;
        }
    }
}
