using System.Collections.Concurrent;
using McpGateway.Configuration;
using McpGateway.Gateway;
using StackExchange.Redis;

namespace McpGateway.Scale;

/// <summary>
/// Session slots in Redis: one sorted set for the total, one per agent and one per client address, whose members are
/// slot ids scored by when they expire. A replica renews its own slots every <see cref="RenewInterval"/>; a replica
/// that dies stops renewing, and its slots stop counting <see cref="Lease"/> after their last renewal (whoever admits
/// next removes them first). Admission is one script: it drops expired slots, refuses at the first full set, else adds
/// the slot to every set. Expiry scores are written by the replicas' clocks, so their clocks must agree to well within
/// <see cref="Lease"/> minus <see cref="RenewInterval"/> (40 s; NTP does far better).
/// </summary>
internal sealed class RedisSessionSlots : ISharedSessionSlots, IDisposable
{
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan RenewInterval = TimeSpan.FromSeconds(20);

    // KEYS: the sets the slot is counted in (total, agent, address when known). ARGV: now (ms), expiry (ms), the
    // sets' own expiry (ms, so that sets of a gone deployment vanish), the slot id, then one limit per key.
    // Returns 0 when admitted, else the index of the full set.
    private const string AdmitScript = """
        local now = tonumber(ARGV[1])
        for i, key in ipairs(KEYS) do
          redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
          if redis.call('ZCARD', key) >= tonumber(ARGV[4 + i]) then
            return i
          end
        end
        for _, key in ipairs(KEYS) do
          redis.call('ZADD', key, ARGV[2], ARGV[4])
          redis.call('PEXPIRE', key, ARGV[3])
        end
        return 0
        """;

    private readonly RedisConnection _redis;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, SessionSlot> _live = new(StringComparer.Ordinal);
    private readonly ITimer _renewal;

    public RedisSessionSlots(RedisConnection redis, TimeProvider time)
    {
        _redis = redis;
        _time = time;
        _renewal = time.CreateTimer(_ => _ = RenewAsync(readd: false), null, RenewInterval, RenewInterval);

        // Back after an outage (or a Redis restart that lost everything): count again every slot this replica holds.
        redis.Restored += () => _ = RenewAsync(readd: true);
    }

    /// <summary>Raised after each renewal that Redis was asked for (true: after an outage, every slot added again); tests wait on it.</summary>
    internal event Action<bool>? Renewed;

    /// <summary>The slots this replica holds.</summary>
    public int Count => _live.Count;

    public async ValueTask<SharedAdmission> TryAdmitAsync(SessionSlot slot, SessionLimitSettings limits)
    {
        if (_redis.Database is not { } database)
        {
            return SharedAdmission.Unavailable;
        }

        string[] sets = Sets(slot);
        var keys = new RedisKey[sets.Length];
        var values = new RedisValue[4 + sets.Length];
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        values[0] = now;
        values[1] = now + (long)Lease.TotalMilliseconds;
        values[2] = (long)(2 * Lease).TotalMilliseconds;
        values[3] = slot.Id;
        int[] limitsBySet = [limits.Total, limits.PerAgent, limits.PerClientAddress];
        for (int i = 0; i < sets.Length; i++)
        {
            keys[i] = _redis.Key(sets[i]);
            values[4 + i] = limitsBySet[i];
        }

        try
        {
            int refused = (int)await database.ScriptEvaluateAsync(AdmitScript, keys, values);
            if (refused == 0)
            {
                _live[slot.Id] = slot;
            }

            return refused switch
            {
                0 => SharedAdmission.Admitted,
                1 => SharedAdmission.OverTotal,
                2 => SharedAdmission.OverAgent,
                _ => SharedAdmission.OverAddress,
            };
        }
        catch (Exception ex) when (RedisConnection.IsFailure(ex))
        {
            // Had the script run before the failure, the slot expires after its lease, never renewed.
            _redis.Failed(ex);
            return SharedAdmission.Unavailable;
        }
    }

    public void Track(SessionSlot slot) => _live[slot.Id] = slot;

    public void Release(SessionSlot slot)
    {
        if (!_live.TryRemove(slot.Id, out _) || _redis.Database is not { } database)
        {
            // Not counted there, or Redis does not answer: the slot expires after its lease, never renewed.
            return;
        }

        try
        {
            IBatch batch = database.CreateBatch();
            foreach (string set in Sets(slot))
            {
                _ = batch.SortedSetRemoveAsync(_redis.Key(set), slot.Id, CommandFlags.FireAndForget);
            }

            batch.Execute();
        }
        catch (Exception ex) when (RedisConnection.IsFailure(ex))
        {
            _redis.Failed(ex);
        }
    }

    /// <summary>
    /// Pushes the expiry of this replica's slots one lease ahead. A plain renewal touches only slots still there
    /// (<paramref name="readd"/> false: one released meanwhile stays released); after an outage, every slot is added again.
    /// </summary>
    internal async Task RenewAsync(bool readd)
    {
        if (_redis.Database is not { } database)
        {
            return;
        }

        try
        {
            if (_live.IsEmpty)
            {
                return;
            }

            double expires = (_time.GetUtcNow() + Lease).ToUnixTimeMilliseconds();
            var bySet = new Dictionary<string, List<SortedSetEntry>>(StringComparer.Ordinal);
            foreach (SessionSlot slot in _live.Values)
            {
                foreach (string set in Sets(slot))
                {
                    if (!bySet.TryGetValue(set, out List<SortedSetEntry>? entries))
                    {
                        bySet[set] = entries = [];
                    }

                    entries.Add(new SortedSetEntry(slot.Id, expires));
                }
            }

            IBatch batch = database.CreateBatch();
            var sent = new List<Task>(bySet.Count * 2);
            foreach ((string set, List<SortedSetEntry> entries) in bySet)
            {
                sent.Add(batch.SortedSetAddAsync(_redis.Key(set), [.. entries], readd ? SortedSetWhen.Always : SortedSetWhen.Exists));
                sent.Add(batch.KeyExpireAsync(_redis.Key(set), 2 * Lease));
            }

            batch.Execute();
            await Task.WhenAll(sent);
        }
        catch (Exception ex) when (RedisConnection.IsFailure(ex))
        {
            _redis.Failed(ex);
        }
        finally
        {
            Renewed?.Invoke(readd);
        }
    }

    // One hash tag for all: the admission script touches the total and an agent's and an address's set at once (Redis cluster).
    private static string[] Sets(SessionSlot slot) => slot.Address.Length > 0
        ? ["sessions:{all}:total", "sessions:{all}:agent:" + Uri.EscapeDataString(slot.Agent), "sessions:{all}:address:" + Uri.EscapeDataString(slot.Address)]
        : ["sessions:{all}:total", "sessions:{all}:agent:" + Uri.EscapeDataString(slot.Agent)];

    public void Dispose() => _renewal.Dispose();
}
