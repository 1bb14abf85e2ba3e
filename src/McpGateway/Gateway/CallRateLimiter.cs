using System.Globalization;
using System.Threading.RateLimiting;
using McpGateway.Configuration;
using McpGateway.Policy;
using ModelContextProtocol;

namespace McpGateway.Gateway;

/// <summary>
/// Calls of servers' tools (<c>tools/call</c>, or through <c>execute_tool</c>) per window per agent, and per agent per tool where the settings
/// name tools (System.Threading.RateLimiting fixed windows, one partition per agent, so one agent's burst never spends
/// another's budget); other requests do not count. Asked by every path
/// that forwards a call, after the call was allowed: a hidden or unknown tool is refused the same way whatever the
/// agent's budget, so the budget reveals nothing.
/// </summary>
internal sealed class CallRateLimiter : IDisposable
{
    /// <summary>JSON-RPC code of an over-limit call (implementation-defined server error range).</summary>
    public const int ErrorCode = -32029;

    private readonly RateLimitSettings _settings;
    private readonly PartitionedRateLimiter<string>? _perAgent;
    private readonly PartitionedRateLimiter<(string Agent, int Rule)>? _perTool;

    public CallRateLimiter(RateLimitSettings settings)
    {
        _settings = settings;
        if (settings.Calls > 0 || settings.Agents.Count > 0)
        {
            _perAgent = PartitionedRateLimiter.Create<string, string>(agent =>
            {
                int limit = settings.Agents.TryGetValue(agent, out int own) ? own : settings.Calls;
                return limit > 0 ? RateLimitPartition.GetFixedWindowLimiter(agent, _ => Window(limit)) : RateLimitPartition.GetNoLimiter(agent);
            });
        }

        if (settings.Tools.Count > 0)
        {
            _perTool = PartitionedRateLimiter.Create<(string Agent, int Rule), (string, int)>(key =>
                RateLimitPartition.GetFixedWindowLimiter(key, k => Window(settings.Tools[k.Rule].Calls)));
        }
    }

    public static CallRateLimiter Unlimited { get; } = new(new RateLimitSettings());

    public bool IsLimited => _perAgent is not null || _perTool is not null;

    /// <summary>Takes one call from the agent's budget (and the tool's, when a rule names it); on refusal, says when to retry.</summary>
    public bool TryAcquire(string agent, string? server, string? tool, out TimeSpan retryAfter, out string? limitedBy)
    {
        retryAfter = TimeSpan.Zero;
        limitedBy = null;
        if (_perTool is not null && server is not null && tool is not null && RuleFor(server, tool) is int rule)
        {
            using RateLimitLease toolLease = _perTool.AttemptAcquire((agent, rule));
            if (!toolLease.IsAcquired)
            {
                retryAfter = RetryAfter(toolLease);
                limitedBy = $"{_settings.Tools[rule].Calls} calls of this tool per {Seconds(_settings.Window)}";
                return false;
            }
        }

        if (_perAgent is not null)
        {
            using RateLimitLease lease = _perAgent.AttemptAcquire(agent);
            if (!lease.IsAcquired)
            {
                retryAfter = RetryAfter(lease);
                int limit = _settings.Agents.TryGetValue(agent, out int own) ? own : _settings.Calls;
                limitedBy = $"{limit} calls per {Seconds(_settings.Window)}";
                return false;
            }
        }

        return true;
    }

    /// <summary>The JSON-RPC error of an over-limit call, with the retry delay in its message and data.</summary>
    public static McpProtocolException Refusal(string agent, TimeSpan retryAfter, string? limitedBy)
    {
        var exception = new McpProtocolException(Message(agent, retryAfter, limitedBy), (McpErrorCode)ErrorCode);
        exception.Data["retryAfterSeconds"] = System.Text.Json.JsonSerializer.SerializeToElement(RetrySeconds(retryAfter), GatewayJsonContext.Default.Int32);
        return exception;
    }

    public static string Message(string agent, TimeSpan retryAfter, string? limitedBy) =>
        $"Rate limit: agent '{agent}' may make {limitedBy}. Retry after {RetrySeconds(retryAfter).ToString(CultureInfo.InvariantCulture)} s.";

    public static int RetrySeconds(TimeSpan retryAfter) => Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));

    private int? RuleFor(string server, string tool)
    {
        for (int i = 0; i < _settings.Tools.Count; i++)
        {
            if (Glob.IsMatch(_settings.Tools[i].Server, server) && Glob.IsMatch(_settings.Tools[i].Tool, tool))
            {
                return i;
            }
        }

        return null;
    }

    private FixedWindowRateLimiterOptions Window(int limit) => new()
    {
        PermitLimit = limit,
        Window = _settings.Window,
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    private TimeSpan RetryAfter(RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan after) ? after : _settings.Window;

    private static string Seconds(TimeSpan window) =>
        window.TotalSeconds == 60 ? "minute" : window.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s";

    public void Dispose()
    {
        _perAgent?.Dispose();
        _perTool?.Dispose();
    }
}
