using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Identity;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Tests.Gateway;

/// <summary>The gateway's side of identity: refusals become protocol errors (and audit facts), sessions bind once.</summary>
public sealed class AgentResolverTests : IAsyncDisposable
{
    private static readonly AuthenticatedCaller s_keyAlpha = new("alpha", IdentitySource.ApiKey, "key:0a", "mcp-gateway|key:0a");

    private readonly GatewayStates _states = new();
    private readonly GatewayState _state;
    private readonly AgentResolver _resolver = new(new CallerResolver(new IdentityOptions()), new SessionRegistry(NullLogger<SessionRegistry>.Instance), NullLogger<AgentResolver>.Instance);

    public AgentResolverTests() => _state = _states.Build();

    [Fact]
    public void Identify_Impersonation_ThrowsInvalidParams_AndMarksTheRequestsAuditRefused()
    {
        GatewayRequest request = Request(new GatewaySession(stateless: false), new IdentityClaims(s_keyAlpha, "beta", null));

        McpProtocolException error = Assert.Throws<McpProtocolException>(() => _resolver.Identify(_state, request));

        Assert.Equal(McpErrorCode.InvalidParams, error.ErrorCode);
        Assert.Equal("refused", request.Audit.Decision);
        Assert.StartsWith("Impersonation: ", request.Audit.Rule, StringComparison.Ordinal);
        Assert.EndsWith("(claimed 'beta')", request.Audit.Rule, StringComparison.Ordinal);
        Assert.Equal("alpha", request.Audit.Caller.EstablishedAgent);
    }

    [Fact]
    public void Identify_AnotherCredentialOnASession_IsAnInvalidRequest()
    {
        var session = new GatewaySession(stateless: false) { Owner = "mcp-gateway|key:other" };

        McpProtocolException error = Assert.Throws<McpProtocolException>(() => _resolver.Identify(_state, Request(session, new IdentityClaims(s_keyAlpha, null, null))));

        Assert.Equal(McpErrorCode.InvalidRequest, error.ErrorCode);
    }

    [Fact]
    public void Identify_NoIdentity_IsNoRefusal_TheCallerJustHasNoAgent()
    {
        GatewayRequest request = Request(new GatewaySession(stateless: false), IdentityClaims.None);

        Caller caller = _resolver.Identify(_state, request);

        Assert.Null(caller.Agent);
        Assert.Equal(IdentityRefusal.Missing, caller.Refusal);
        Assert.Equal("allowed", request.Audit.Decision);
    }

    [Fact]
    public void Bind_BindsTheSessionToTheFirstAgentThatNamesItself_AndNeverChangesIt()
    {
        var session = new GatewaySession(stateless: false);

        Caller alpha = _resolver.Identify(_state, Request(session, new IdentityClaims(null, "alpha", null)));
        _resolver.Bind(session, alpha);
        Caller beta = _resolver.Resolve(_state, Request(session, new IdentityClaims(null, "beta", null)));

        Assert.Equal("alpha", session.BoundAgent);
        Assert.Equal("alpha", _resolver.SessionAgent(_state, session));
        Assert.Equal(IdentityRefusal.Impersonation, beta.Refusal);
    }

    [Fact]
    public void Bind_AStatelessSession_BindsNothing()
    {
        var session = new GatewaySession(stateless: true);

        _resolver.Bind(session, _resolver.Identify(_state, Request(session, new IdentityClaims(null, "alpha", null))));

        Assert.Null(session.BoundAgent);
    }

    private static GatewayRequest Request(GatewaySession session, IdentityClaims claims) =>
        new(session, new JsonRpcRequest { Id = new RequestId(1), Method = RequestMethods.ToolsList }, claims, NoUpstream.Instance);

    public ValueTask DisposeAsync() => _states.DisposeAsync();
}
