using System.Globalization;
using System.Threading.RateLimiting;
using McpGateway.Configuration;
using McpGateway.Policy;
using ModelContextProtocol;

namespace McpGateway.Gateway;

/// <summary>What the call limits say about one call.</summary>
internal readonly record struct RateDecision(bool Allowed, TimeSpan RetryAfter = default, string? LimitedBy = null)
{
    public static RateDecision Allow { get; } = new(true);
}

/// <summary>
/// Calls of servers' tools (<c>tools/call</c>, or through <c>execute_tool</c>) per window per agent, and per agent per tool where the settings
/// name tools (System.Threading.RateLimiting fixed windows, one partition per agent, so one agent's burst never spends
/// another's budget); other requests do not count. Asked by every path
/// that forwards a call, after the call was allowed: a hidden or unknown tool is refused the same way whatever the
/// agent's budget, so the budget reveals nothing. With a shared store (Redis) the windows are counted there, by all
/// replicas together; while the store cannot answer, each replica counts in its own windows here.
/// </summary>
internal sealed class CallRateLimiter : IDisposable
{
    /// <summary>JSON-RPC code of an over-limit call (implementation-defined server error range).</summary>
    public const int ErrorCode = -32029;

    private readonly RateLimitSettings _settings;
    private readonly PartitionedRateLimiter<string>? _perAgent;
    private readonly PartitionedRateLimiter<(string Agent, int Rule)>? _perTool;

    public CallRateLimiter(RateLimitSettings settings, ISharedRateWindows? shared = null)
    {
        _settings = settings;
        Shared = shared;
        if (settings.Calls > 0 || settings.Agents.Count > 0)
        {
            _perAgent = PartitionedRateLimiter.Create<string, string>(agent =>
            {
                int limit = AgentLimit(agent);
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

    /// <summary>The store the replicas share, or null when each counts alone.</summary>
    public ISharedRateWindows? Shared { get; }

    public bool IsLimited => _perAgent is not null || _perTool is not null;

    /// <summary>
    /// Takes one call from the agent's budget (and the tool's, when a rule names it): in the shared store when it
    /// answers, else in this replica's windows. On refusal, says which limit and when to retry.
    /// </summary>
    public ValueTask<RateDecision> AcquireAsync(string agent, string? server, string? tool)
    {
        if (Shared is not { IsAvailable: true } shared)
        {
            return ValueTask.FromResult(TryAcquire(agent, server, tool, out TimeSpan retryAfter, out string? limitedBy) ? RateDecision.Allow : new RateDecision(false, retryAfter, limitedBy));
        }

        return AcquireSharedAsync(shared, agent, server, tool);
    }

    private async ValueTask<RateDecision> AcquireSharedAsync(ISharedRateWindows shared, string agent, string? server, string? tool)
    {
        int? rule = _perTool is not null && server is not null && tool is not null ? RuleFor(server, tool) : null;
        int agentLimit = _perAgent is not null ? AgentLimit(agent) : 0;
        string window = ((long)_settings.Window.TotalSeconds).ToString(CultureInfo.InvariantCulture);

        // Keys of one agent share a hash tag, so that one script can take from both on a Redis cluster.
        string tag = "rate:{" + Uri.EscapeDataString(agent) + "}:";
        var windows = new List<SharedWindow>(2);
        if (rule is int toolRule)
        {
            ToolRateLimit limit = _settings.Tools[toolRule];
            windows.Add(new SharedWindow($"{tag}tool:{window}s:{Uri.EscapeDataString(limit.Server)}/{Uri.EscapeDataString(limit.Tool)}", limit.Calls));
        }

        if (agentLimit > 0)
        {
            windows.Add(new SharedWindow($"{tag}calls:{window}s", agentLimit));
        }

        if (windows.Count == 0)
        {
            return RateDecision.Allow;
        }

        if (await shared.TryTakeAsync(windows, _settings.Window) is not { } take)
        {
            // The store did not answer: this replica's own windows decide.
            return TryAcquire(agent, server, tool, out TimeSpan retryAfter, out string? limitedBy) ? RateDecision.Allow : new RateDecision(false, retryAfter, limitedBy);
        }

        return take.Taken ? RateDecision.Allow
            : new RateDecision(false, take.RetryAfter, rule is int refusedRule && take.RefusedBy == 0 ? ToolLimitText(refusedRule) : AgentLimitText(agentLimit));
    }

    /// <summary>This replica's own windows: takes one call from the agent's budget (and the tool's); on refusal, says when to retry.</summary>
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
                limitedBy = ToolLimitText(rule);
                return false;
            }
        }

        if (_perAgent is not null)
        {
            using RateLimitLease lease = _perAgent.AttemptAcquire(agent);
            if (!lease.IsAcquired)
            {
                retryAfter = RetryAfter(lease);
                limitedBy = AgentLimitText(AgentLimit(agent));
                return false;
            }
        }

        return true;
    }

    private int AgentLimit(string agent) => _settings.Agents.TryGetValue(agent, out int own) ? own : _settings.Calls;

    private string AgentLimitText(int limit) => $"{limit} calls per {Seconds(_settings.Window)}";

    private string ToolLimitText(int rule) => $"{_settings.Tools[rule].Calls} calls of this tool per {Seconds(_settings.Window)}";

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
