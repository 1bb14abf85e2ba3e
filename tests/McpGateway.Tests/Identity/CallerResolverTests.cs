using McpGateway.Identity;
using McpGateway.Policy;
using McpGateway.Tests.Policy;

namespace McpGateway.Tests.Identity;

/// <summary>
/// The one identity decision, as a table of sources × situations: every path of the gateway (SDK handlers, the fast
/// path, stdio, multi round-trip retries, the gateway's own tools, session admission) asks this resolver, so this
/// table is what all of them do.
/// </summary>
public sealed class CallerResolverTests
{
    private static readonly PolicySnapshot s_withDefault = PolicyFixture.Compile("""
        {"agents": {"alpha": {"allow": {"servers": ["*"]}}, "beta": {"allow": {"servers": ["*"]}}, "guest": {"allow": {"servers": ["db"]}}},
         "defaults": {"default_agent": "guest"}}
        """);

    private static readonly PolicySnapshot s_noDefault = PolicyFixture.Compile("""
        {"agents": {"alpha": {"allow": {"servers": ["*"]}}, "beta": {"allow": {"servers": ["*"]}}}}
        """);

    private static readonly AuthenticatedCaller s_keyAlpha = new("alpha", IdentitySource.ApiKey, "key:0000000a", "mcp-gateway|key:0000000a");
    private static readonly AuthenticatedCaller s_keyAlphaOther = new("alpha", IdentitySource.ApiKey, "key:0000000b", "mcp-gateway|key:0000000b");
    private static readonly AuthenticatedCaller s_tokenBeta = new("beta", IdentitySource.Jwt, "jwt:client-b", "https://issuer|client-b");
    private static readonly AuthenticatedCaller s_keyWithoutAgent = new(null, IdentitySource.Jwt, "jwt:stranger", "https://issuer|stranger");

    /// <summary>One situation: what the request carries, what its session holds, what the gateway accepts; and the answer.</summary>
    public sealed record Row(
        string Situation,
        AuthenticatedCaller? Principal = null,
        string? Header = null,
        string? Argument = null,
        string? Bound = null,
        string? Owner = null,
        bool CanBind = true,
        string? Fixed = null,
        bool SelfAsserted = true,
        bool AcceptHeader = true,
        bool AcceptArgument = true,
        bool Default = true,
        string? Agent = null,
        IdentitySource Source = IdentitySource.None,
        IdentityRefusal Refusal = IdentityRefusal.None,
        bool Binds = false)
    {
        public override string ToString() => Situation;
    }

    public static TheoryData<Row> Table() =>
    [
        // Nothing named
        new Row("nothing, with a default agent", Agent: "guest", Source: IdentitySource.DefaultAgent),
        new Row("nothing, without a default agent", Default: false, Refusal: IdentityRefusal.Missing),

        // Self-asserted, nothing established
        new Row("header naming a known agent binds the session", Header: "alpha", Agent: "alpha", Source: IdentitySource.Header, Binds: true),
        new Row("header naming an agent not in the rules does not bind", Header: "nobody", Agent: "nobody", Source: IdentitySource.Header),
        new Row("argument naming a known agent binds the session", Argument: "beta", Agent: "beta", Source: IdentitySource.Argument, Binds: true),
        new Row("header and argument agree", Header: "alpha", Argument: "alpha", Agent: "alpha", Source: IdentitySource.Header, Binds: true),
        new Row("header and argument disagree", Header: "alpha", Argument: "beta", Refusal: IdentityRefusal.Conflict),
        new Row("stateless request: a header names the agent but binds nothing", Header: "alpha", CanBind: false, Agent: "alpha", Source: IdentitySource.Header),
        new Row("header ignored when the gateway reads none", Header: "alpha", AcceptHeader: false, Agent: "guest", Source: IdentitySource.DefaultAgent),
        new Row("argument ignored when the gateway reads none", Argument: "alpha", AcceptArgument: false, Agent: "guest", Source: IdentitySource.DefaultAgent),
        new Row("self-asserted identity switched off: a header is refused", Header: "alpha", SelfAsserted: false, Refusal: IdentityRefusal.SelfAssertedOff),
        new Row("self-asserted identity switched off: an argument is refused", Argument: "alpha", SelfAsserted: false, Refusal: IdentityRefusal.SelfAssertedOff),
        new Row("self-asserted identity switched off: nothing named gets the default", SelfAsserted: false, Agent: "guest", Source: IdentitySource.DefaultAgent),

        // The session is bound
        new Row("bound session", Bound: "alpha", Agent: "alpha", Source: IdentitySource.Session),
        new Row("bound session, header repeats its agent", Bound: "alpha", Header: "alpha", Agent: "alpha", Source: IdentitySource.Session),
        new Row("bound session, header names another agent", Bound: "alpha", Header: "beta", Refusal: IdentityRefusal.Impersonation),
        new Row("bound session, argument names another agent", Bound: "alpha", Argument: "beta", Refusal: IdentityRefusal.Impersonation),

        // A stdio process with --agent
        new Row("fixed agent", Fixed: "alpha", Agent: "alpha", Source: IdentitySource.FixedAgent),
        new Row("fixed agent, argument repeats it", Fixed: "alpha", Argument: "alpha", Agent: "alpha", Source: IdentitySource.FixedAgent),
        new Row("fixed agent, argument names another agent", Fixed: "alpha", Argument: "beta", Refusal: IdentityRefusal.Impersonation),
        new Row("fixed agent wins over the default and needs no self-assertion", Fixed: "alpha", SelfAsserted: false, Agent: "alpha", Source: IdentitySource.FixedAgent),

        // Authenticated principals
        new Row("API key", Principal: s_keyAlpha, SelfAsserted: false, Agent: "alpha", Source: IdentitySource.ApiKey),
        new Row("token", Principal: s_tokenBeta, SelfAsserted: false, Agent: "beta", Source: IdentitySource.Jwt),
        new Row("API key, header repeats its agent (narrowing)", Principal: s_keyAlpha, Header: "alpha", SelfAsserted: false, Agent: "alpha", Source: IdentitySource.ApiKey),
        new Row("API key, argument repeats its agent (narrowing)", Principal: s_keyAlpha, Argument: "alpha", SelfAsserted: false, Agent: "alpha", Source: IdentitySource.ApiKey),
        new Row("API key, header names another agent", Principal: s_keyAlpha, Header: "beta", SelfAsserted: false, Refusal: IdentityRefusal.Impersonation),
        new Row("API key, argument names another agent", Principal: s_keyAlpha, Argument: "beta", SelfAsserted: false, Refusal: IdentityRefusal.Impersonation),
        new Row("API key, argument names another agent even with self-assertion on", Principal: s_keyAlpha, Argument: "beta", SelfAsserted: true, Refusal: IdentityRefusal.Impersonation),
        new Row("token naming no agent", Principal: s_keyWithoutAgent, SelfAsserted: false, Refusal: IdentityRefusal.NoAgentForCredential),
        new Row("API key on the session it created", Principal: s_keyAlpha, Bound: "alpha", Owner: s_keyAlpha.UserId, Agent: "alpha", Source: IdentitySource.ApiKey),
        new Row("another key of the same agent on that session", Principal: s_keyAlphaOther, Bound: "alpha", Owner: s_keyAlpha.UserId, Refusal: IdentityRefusal.NotSessionOwner),
        new Row("another agent's token on that session", Principal: s_tokenBeta, Bound: "alpha", Owner: s_keyAlpha.UserId, Refusal: IdentityRefusal.NotSessionOwner),
        new Row("no credential on an authenticated session", Bound: "alpha", Owner: s_keyAlpha.UserId, Header: "alpha", Refusal: IdentityRefusal.NotSessionOwner),
        new Row("fixed agent is never combined with a foreign session owner", Fixed: "alpha", Owner: s_keyAlpha.UserId, Refusal: IdentityRefusal.NotSessionOwner),
    ];

    [Theory]
    [MemberData(nameof(Table))]
    public void Resolve_FollowsTheIdentityTable(Row row)
    {
        var resolver = new CallerResolver(new IdentityOptions
        {
            FixedAgent = row.Fixed,
            SelfAssertedEstablishes = row.SelfAsserted,
            AcceptHeader = row.AcceptHeader,
            AcceptArgument = row.AcceptArgument,
        });

        Caller caller = resolver.Resolve(
            new IdentityClaims(row.Principal, row.Header, row.Argument),
            new SessionIdentity(row.Bound, row.Owner, row.CanBind),
            row.Default ? s_withDefault : s_noDefault);

        Assert.Equal(row.Refusal, caller.Refusal);
        Assert.Equal(row.Agent, caller.Agent);
        Assert.Equal(row.Binds, caller.BindsSession);
        if (row.Agent is not null)
        {
            Assert.Equal(row.Source, caller.Source);
            Assert.Equal(row.Principal?.CredentialId, caller.CredentialId);
        }
        else
        {
            Assert.False(string.IsNullOrEmpty(caller.Message));
        }
    }

    [Fact]
    public void Resolve_Impersonation_NamesTheRealAgentAndTheClaim_ForTheAudit()
    {
        var resolver = new CallerResolver(new IdentityOptions { SelfAssertedEstablishes = false });

        Caller caller = resolver.Resolve(new IdentityClaims(s_keyAlpha, "beta", null), default, s_withDefault);

        Assert.True(caller.IsRefused);
        Assert.Equal("alpha", caller.EstablishedAgent);
        Assert.Equal("beta", caller.ClaimedAgent);
        Assert.Equal("key:0000000a", caller.CredentialId);
        Assert.Contains("cannot act as agent 'beta'", caller.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_MissingIdentity_IsNotARefusal_AndSaysHowToGiveOne()
    {
        var resolver = new CallerResolver(new IdentityOptions());

        Caller caller = resolver.Resolve(default, default, s_noDefault);

        Assert.False(caller.IsRefused);
        Assert.Equal(IdentityRefusal.Missing, caller.Refusal);
        Assert.Contains("'agent_id' argument", caller.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingIdentityMessage_WithSelfAssertionOff_PointsAtCredentials()
    {
        var resolver = new CallerResolver(new IdentityOptions { SelfAssertedEstablishes = false });

        Assert.Contains("connect with an identity the gateway is configured to accept", resolver.MissingIdentityMessage(), StringComparison.Ordinal);
    }
}
