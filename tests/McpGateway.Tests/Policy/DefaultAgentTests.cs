using McpGateway.Policy;

namespace McpGateway.Tests.Policy;

/// <summary>Which agent's rules apply to a caller that gives no identity.</summary>
public sealed class DefaultAgentTests
{
    private const string WithFileDefault = """
        {"agents": {"guest": {"allow": {"servers": ["web"]}}, "admin": {"allow": {"servers": ["*"]}}, "default": {"allow": {"servers": ["db"]}}},
         "defaults": {"default_agent": "guest"}}
        """;

    [Fact]
    public void ResolveAgent_NoIdentityAndFileNamesDefaultAgent_UsesIt()
    {
        PolicySnapshot policy = PolicyFixture.Compile(WithFileDefault);

        Assert.Equal("guest", policy.DefaultAgent);
        Assert.Equal(("guest", AgentSource.DefaultAgent), policy.ResolveAgent(null));
        Assert.Equal(("guest", AgentSource.DefaultAgent), policy.ResolveAgent(string.Empty));
    }

    [Fact]
    public void ResolveAgent_CallerNamesItself_UsesThatNameEvenIfUnknown()
    {
        PolicySnapshot policy = PolicyFixture.Compile(WithFileDefault);

        Assert.Equal(("admin", AgentSource.Explicit), policy.ResolveAgent("admin"));
        Assert.Equal(("stranger", AgentSource.Explicit), policy.ResolveAgent("stranger"));
    }

    [Fact]
    public void Compile_OverrideGiven_WinsOverTheFile()
    {
        PolicySnapshot policy = PolicyFixture.Compile(WithFileDefault, defaultAgentOverride: "admin");

        Assert.Equal("admin", policy.DefaultAgent);
        Assert.Equal(("admin", AgentSource.DefaultAgent), policy.ResolveAgent(null));
    }

    [Fact]
    public void Compile_EmptyOverride_IsIgnored()
    {
        PolicySnapshot policy = PolicyFixture.Compile(WithFileDefault, defaultAgentOverride: string.Empty);

        Assert.Equal("guest", policy.DefaultAgent);
    }

    [Theory]
    [InlineData("""{"access_rules": {"default": {"servers": ["db"]}, "other": {"servers": ["web"]}}}""")]
    [InlineData("""{"agents": {"other": {"allow": {"servers": ["web"]}}, "default": {"allow": {"servers": ["db"]}}}}""")]
    public void ResolveAgent_NothingNamesADefaultButAgentNamedDefaultExists_UsesIt(string json)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        Assert.Equal(PolicySnapshot.ConventionalDefaultAgent, policy.DefaultAgent);
        Assert.Equal(("default", AgentSource.DefaultAgent), policy.ResolveAgent(null));
        Assert.True(policy.DecideServer("default", "db").IsAllowed);
    }

    [Fact]
    public void ResolveAgent_FileDefaultAndAgentNamedDefault_FileWins()
    {
        PolicySnapshot policy = PolicyFixture.Compile(WithFileDefault);

        Assert.NotEqual(PolicySnapshot.ConventionalDefaultAgent, policy.DefaultAgent);
        Assert.Equal("guest", policy.DefaultAgent);
    }

    [Theory]
    [InlineData("""{"access_rules": {"other": {"servers": ["web"]}}}""")]
    [InlineData("""{"agents": {"other": {"allow": {"servers": ["web"]}}}}""")]
    [InlineData("""{"agents": {"Default": {"allow": {"servers": ["web"]}}}}""")]
    public void ResolveAgent_NoDefaultConfigured_ReturnsNullAgent(string json)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        Assert.Null(policy.DefaultAgent);
        (string? agent, AgentSource source) = policy.ResolveAgent(null);
        Assert.Null(agent);
        Assert.Equal(AgentSource.DefaultAgent, source);
    }
}
