using System.Text.Json;
using System.Text.Json.Serialization;
using McpGateway.Gateway;
using StackExchange.Redis;

namespace McpGateway.Scale;

/// <summary>
/// Session state in Redis, one JSON value per session (keyed by its fingerprint) that expires with the session, so a
/// session resumed on another replica finds its log level and subscriptions. While Redis does not answer, state is
/// kept by this replica (as without Redis), and read from here when Redis has none.
/// </summary>
internal sealed class RedisSessionStateStore(RedisConnection redis, TimeProvider time) : ISessionStateStore
{
    private readonly InMemorySessionStateStore _local = new(time);

    public bool IsShared => true;

    public async ValueTask<SharedSessionState?> GetAsync(string sessionKey, CancellationToken cancellationToken)
    {
        if (redis.Database is { } database)
        {
            try
            {
                RedisValue value = await database.StringGetAsync(Key(sessionKey)).WaitAsync(cancellationToken);
                if (!value.IsNull && Read(value) is { } state)
                {
                    return state;
                }
            }
            catch (Exception ex) when (RedisConnection.IsFailure(ex))
            {
                redis.Failed(ex);
            }
        }

        return await _local.GetAsync(sessionKey, cancellationToken);
    }

    public async ValueTask SetAsync(string sessionKey, SharedSessionState state, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        if (redis.Database is { } database)
        {
            try
            {
                byte[] json = JsonSerializer.SerializeToUtf8Bytes(state, ScaleJsonContext.Default.SharedSessionState);
                await database.StringSetAsync(Key(sessionKey), json, timeToLive).WaitAsync(cancellationToken);

                // What was kept here during an outage is older than what was just written.
                await _local.RemoveAsync(sessionKey, cancellationToken);
                return;
            }
            catch (Exception ex) when (RedisConnection.IsFailure(ex))
            {
                redis.Failed(ex);
            }
        }

        await _local.SetAsync(sessionKey, state, timeToLive, cancellationToken);
    }

    public async ValueTask RemoveAsync(string sessionKey, CancellationToken cancellationToken)
    {
        await _local.RemoveAsync(sessionKey, cancellationToken);
        if (redis.Database is { } database)
        {
            try
            {
                await database.KeyDeleteAsync(Key(sessionKey)).WaitAsync(cancellationToken);
            }
            catch (Exception ex) when (RedisConnection.IsFailure(ex))
            {
                // It expires with its time to live.
                redis.Failed(ex);
            }
        }
    }

    private RedisKey Key(string sessionKey) => redis.Key("session:" + sessionKey);

    // A value that is not ours (another program's, or an older shape) is no state.
    private static SharedSessionState? Read(RedisValue value)
    {
        try
        {
            return JsonSerializer.Deserialize((byte[])value!, ScaleJsonContext.Default.SharedSessionState);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SharedSessionState))]
internal sealed partial class ScaleJsonContext : JsonSerializerContext;
