using System.Text.Json;
using McpGateway.Configuration;
using McpGateway.Gateway;
using McpGateway.Identity;
using ModelContextProtocol;

namespace McpGateway.Tests.Gateway;

/// <summary>
/// The one decision about a tool call, as a table: no identity, unknown tool, hidden tool (the same verdict and the
/// same words as unknown), allowed, over budget; by exposed name (<c>tools/call</c>) and by server and tool
/// (<c>execute_tool</c>).
/// </summary>
public sealed class ToolCallGateTests : IAsyncDisposable
{
    private static readonly Caller s_alpha = new("alpha", IdentitySource.Header);
    private static readonly Caller s_beta = new("beta", IdentitySource.ApiKey, CredentialId: "key:b");
    private static readonly Caller s_stranger = new("nobody", IdentitySource.Header);
    private static readonly Caller s_anonymous = new(null, IdentitySource.None, Refusal: IdentityRefusal.Missing, Message: "Say which agent you are.");

    private readonly GatewayStates _states = new();
    private readonly GatewayState _state;
    private readonly ToolCallGate _gate = new(CallRateLimiter.Unlimited);

    public ToolCallGateTests() => _state = _states.Build();

    public sealed record Row(string Situation, string Agent, string Name, string Verdict, string Decision, string? Server = null, string? Tool = null)
    {
        public override string ToString() => Situation;
    }

    public static TheoryData<Row> ByExposedName() =>
    [
        new Row("no identity", "(none)", "db_query", nameof(ToolCallVerdict.NoIdentity), "no-identity"),
        new Row("allowed by the tool list", "alpha", "db_query", nameof(ToolCallVerdict.Allowed), "allowed", "db", "query"),
        new Row("allowed by a pattern in the tool list", "alpha", "db_list_users", nameof(ToolCallVerdict.Allowed), "allowed", "db", "list_users"),
        new Row("allowed implicitly (server without a tool list)", "beta", "web_fetch", nameof(ToolCallVerdict.Allowed), "allowed", "web", "fetch"),
        new Row("no such tool", "alpha", "db_nothing", nameof(ToolCallVerdict.UnknownTool), "unknown"),
        new Row("hidden: not in the server's tool list", "alpha", "db_drop_table", nameof(ToolCallVerdict.UnknownTool), "denied", "db", "drop_table"),
        new Row("hidden: a server the agent may not use", "alpha", "secret_peek", nameof(ToolCallVerdict.UnknownTool), "denied", "secret", "peek"),
        new Row("hidden: another agent's server", "beta", "db_query", nameof(ToolCallVerdict.UnknownTool), "denied", "db", "query"),
        new Row("an agent not in the rules", "nobody", "web_fetch", nameof(ToolCallVerdict.UnknownTool), "denied", "web", "fetch"),
        new Row("a gateway tool's name is no downstream tool", "alpha", "execute_tool", nameof(ToolCallVerdict.UnknownTool), "unknown"),
    ];

    [Theory]
    [MemberData(nameof(ByExposedName))]
    public void Decide_ByExposedName_FollowsTheVerdictTable(Row row)
    {
        ToolCallDecision decision = _gate.Decide(_state, Caller(row.Agent), row.Name);

        Assert.Equal(Enum.Parse<ToolCallVerdict>(row.Verdict), decision.Verdict);
        Assert.Equal(row.Decision, decision.DecisionName);
        Assert.Equal(row.Name, decision.Name);
        Assert.Equal(row.Server, decision.Route?.Server.Name);
        Assert.Equal(row.Tool, decision.Route?.Tool.Name);
    }

    public static TheoryData<Row> ByServerAndTool() =>
    [
        new Row("no identity", "(none)", "db/query", nameof(ToolCallVerdict.NoIdentity), "no-identity"),
        new Row("allowed", "alpha", "db/query", nameof(ToolCallVerdict.Allowed), "allowed", "db", "query"),
        // The policy answers for any server name, so the audit says denied where the agent is told unknown.
        new Row("no such server", "alpha", "nowhere/query", nameof(ToolCallVerdict.UnknownServer), "denied"),
        new Row("a server the agent may not use", "alpha", "secret/peek", nameof(ToolCallVerdict.UnknownServer), "denied"),
        new Row("a disabled server the agent may use", "alpha", "off/sleep", nameof(ToolCallVerdict.UnknownServer), "denied"),
        new Row("no such tool on a server the agent may use", "alpha", "db/nothing", nameof(ToolCallVerdict.UnknownTool), "unknown"),
        new Row("hidden tool on a server the agent may use", "alpha", "db/drop_table", nameof(ToolCallVerdict.UnknownTool), "denied", "db", "drop_table"),
    ];

    [Theory]
    [MemberData(nameof(ByServerAndTool))]
    public void Decide_ByServerAndTool_FollowsTheVerdictTable(Row row)
    {
        string[] parts = row.Name.Split('/');

        ToolCallDecision decision = _gate.Decide(_state, Caller(row.Agent), parts[0], parts[1]);

        Assert.Equal(Enum.Parse<ToolCallVerdict>(row.Verdict), decision.Verdict);
        Assert.Equal(row.Decision, decision.DecisionName);
        Assert.Equal(row.Name, decision.Name);
        Assert.Equal(row.Server, decision.Route?.Server.Name);
    }

    [Fact]
    public void HiddenTool_IsRefusedWithTheVerySameErrorAsATool_ThatDoesNotExist()
    {
        GatewayState withoutDropTable = _states.Build(without: "db/drop_table");

        McpProtocolException hidden = ToolCallGate.Refusal(_gate.Decide(_state, s_alpha, "db_drop_table"));
        McpProtocolException missing = ToolCallGate.Refusal(_gate.Decide(withoutDropTable, s_alpha, "db_drop_table"));

        Assert.Equal(missing.Message, hidden.Message);
        Assert.Equal(missing.ErrorCode, hidden.ErrorCode);
        Assert.Equal("Unknown tool: 'db_drop_table'", hidden.Message);
        Assert.Equal(McpErrorCode.InvalidParams, hidden.ErrorCode);
    }

    [Fact]
    public void NoIdentity_IsRefusedWithTheResolversMessage()
    {
        McpProtocolException refusal = ToolCallGate.Refusal(_gate.Decide(_state, s_anonymous, "db_query"));

        Assert.Equal("Say which agent you are.", refusal.Message);
        Assert.Equal(McpErrorCode.InvalidParams, refusal.ErrorCode);
    }

    [Fact]
    public void Decide_InDiscoveryMode_NoDownstreamToolIsCallableByName_ButExecuteToolReachesIt()
    {
        GatewayState discovery = _states.Build(ExposureMode.Discovery);

        Assert.Equal(ToolCallVerdict.UnknownTool, _gate.Decide(discovery, s_alpha, "db_query").Verdict);
        Assert.Equal(ToolCallVerdict.Allowed, _gate.Decide(discovery, s_alpha, "db", "query").Verdict);
    }

    [Fact]
    public async Task Admit_OverTheAgentsBudget_IsRateLimited_WithWhenToRetry()
    {
        var gate = new ToolCallGate(new CallRateLimiter(new RateLimitSettings { Calls = 2, Window = TimeSpan.FromHours(1) }));

        var admitted = new ToolCallDecision[3];
        for (int i = 0; i < admitted.Length; i++)
        {
            admitted[i] = await gate.AdmitAsync(gate.Decide(_state, s_alpha, "db_query"));
        }

        McpProtocolException refusal = ToolCallGate.Refusal(admitted[2]);

        Assert.Equal([ToolCallVerdict.Allowed, ToolCallVerdict.Allowed, ToolCallVerdict.RateLimited], admitted.Select(d => d.Verdict));
        Assert.Equal("rate-limited", admitted[2].DecisionName);
        Assert.Equal("2 calls per 3600 s", admitted[2].Rule);
        Assert.InRange(admitted[2].RetryAfter, TimeSpan.FromTicks(1), TimeSpan.FromHours(1));
        Assert.Equal(CallRateLimiter.ErrorCode, (int)refusal.ErrorCode);
        Assert.Matches(@"^Rate limit: agent 'alpha' may make 2 calls per 3600 s\. Retry after \d+ s\.$", refusal.Message);
        Assert.Equal(CallRateLimiter.RetrySeconds(admitted[2].RetryAfter), ((JsonElement)refusal.Data["retryAfterSeconds"]!).GetInt32());
    }

    [Fact]
    public async Task Admit_HiddenOrUnknownTools_AreRefusedAsUnknownWhateverTheBudget_AndSpendNone()
    {
        var gate = new ToolCallGate(new CallRateLimiter(new RateLimitSettings { Calls = 1, Window = TimeSpan.FromHours(1) }));

        ToolCallDecision hidden = await gate.AdmitAsync(gate.Decide(_state, s_alpha, "db_drop_table"));
        ToolCallDecision unknown = await gate.AdmitAsync(gate.Decide(_state, s_alpha, "db_nothing"));
        ToolCallDecision allowed = await gate.AdmitAsync(gate.Decide(_state, s_alpha, "db_query"));
        ToolCallDecision hiddenOverBudget = await gate.AdmitAsync(gate.Decide(_state, s_alpha, "db_drop_table"));

        Assert.Equal(ToolCallVerdict.UnknownTool, hidden.Verdict);
        Assert.Equal(ToolCallVerdict.UnknownTool, unknown.Verdict);
        Assert.Equal(ToolCallVerdict.Allowed, allowed.Verdict);
        Assert.Equal(ToolCallVerdict.UnknownTool, hiddenOverBudget.Verdict);
    }

    [Fact]
    public async Task Apply_NewLimits_StartEveryBudgetAfresh()
    {
        var gate = new ToolCallGate(new CallRateLimiter(new RateLimitSettings { Calls = 1, Window = TimeSpan.FromHours(1) }));
        await gate.AdmitAsync(gate.Decide(_state, s_alpha, "db_query"));
        Assert.Equal(ToolCallVerdict.RateLimited, (await gate.AdmitAsync(gate.Decide(_state, s_alpha, "db_query"))).Verdict);

        gate.Apply(new RateLimitSettings { Calls = 1, Window = TimeSpan.FromHours(1) });

        Assert.Equal(ToolCallVerdict.Allowed, (await gate.AdmitAsync(gate.Decide(_state, s_alpha, "db_query"))).Verdict);
        Assert.Equal(ToolCallVerdict.RateLimited, (await gate.AdmitAsync(gate.Decide(_state, s_alpha, "db_query"))).Verdict);
    }

    [Fact]
    public void Rule_SaysWhatDecided()
    {
        ToolCallDecision allowed = _gate.Decide(_state, s_alpha, "db_query");
        ToolCallDecision hidden = _gate.Decide(_state, s_alpha, "db_drop_table");
        ToolCallDecision unknown = _gate.Decide(_state, s_alpha, "db_nothing");
        ToolCallDecision anonymous = _gate.Decide(_state, s_anonymous, "db_query");

        Assert.StartsWith("allowed:", allowed.Rule, StringComparison.Ordinal);
        Assert.StartsWith("denied:", hidden.Rule, StringComparison.Ordinal);
        Assert.Equal("no such tool", unknown.Rule);
        Assert.Equal("Say which agent you are.", anonymous.Rule);
    }

    private static Caller Caller(string agent) => agent switch
    {
        "(none)" => s_anonymous,
        "alpha" => s_alpha,
        "beta" => s_beta,
        _ => s_stranger,
    };

    public ValueTask DisposeAsync() => _states.DisposeAsync();
}
