using McpGateway.Configuration;
using McpGateway.Gateway;

namespace McpGateway.Tests.Gateway;

/// <summary>Admission of new sessions: a total, per agent and per client address; a newcomer over a limit is refused, nobody is evicted.</summary>
public sealed class SessionLimiterTests
{
    [Fact]
    public void TryAdmit_OverTheTotal_RefusesTheNewcomer_AndNamesTheLimit()
    {
        var limiter = new SessionLimiter(new SessionLimitSettings { Total = 2 });

        Assert.True(limiter.TryAdmit("a", "10.0.0.1", out _, out _));
        Assert.True(limiter.TryAdmit("b", "10.0.0.2", out _, out _));
        bool third = limiter.TryAdmit("c", "10.0.0.3", out IDisposable? slot, out string? refusal);

        Assert.False(third);
        Assert.Null(slot);
        Assert.Equal("the gateway has 2 open sessions, its limit (limits.sessions.total)", refusal);
        Assert.Equal(2, limiter.Total);
    }

    [Fact]
    public void TryAdmit_PerAgent_LimitsThatAgentOnly()
    {
        var limiter = new SessionLimiter(new SessionLimitSettings { PerAgent = 1 });

        Assert.True(limiter.TryAdmit("a", null, out _, out _));
        bool again = limiter.TryAdmit("a", null, out _, out string? refusal);
        bool other = limiter.TryAdmit("b", null, out _, out _);

        Assert.False(again);
        Assert.Equal("agent 'a' has 1 open sessions, the limit per agent (limits.sessions.perAgent)", refusal);
        Assert.True(other);
    }

    [Fact]
    public void TryAdmit_SessionsWithoutAnAgent_AreCountedTogether()
    {
        var limiter = new SessionLimiter(new SessionLimitSettings { PerAgent = 2 });

        Assert.True(limiter.TryAdmit(null, null, out _, out _));
        Assert.True(limiter.TryAdmit(null, null, out _, out _));
        Assert.False(limiter.TryAdmit(null, null, out _, out string? refusal));
        Assert.Equal($"agent '{SessionLimiter.NoAgent}' has 2 open sessions, the limit per agent (limits.sessions.perAgent)", refusal);
    }

    [Fact]
    public void TryAdmit_PerClientAddress_LimitsThatAddress_AndSessionsWithoutOneAreNotCountedByAddress()
    {
        var limiter = new SessionLimiter(new SessionLimitSettings { PerClientAddress = 1 });

        Assert.True(limiter.TryAdmit("a", "10.0.0.1", out _, out _));
        bool sameAddress = limiter.TryAdmit("b", "10.0.0.1", out _, out string? refusal);
        bool otherAddress = limiter.TryAdmit("b", "10.0.0.2", out _, out _);
        bool noAddress = limiter.TryAdmit("c", null, out _, out _) && limiter.TryAdmit("c", null, out _, out _);

        Assert.False(sameAddress);
        Assert.Equal("this address has 1 open sessions, the limit per client address (limits.sessions.perClientAddress)", refusal);
        Assert.True(otherAddress);
        Assert.True(noAddress);
    }

    [Fact]
    public void Release_FreesTheSlotOnce_EvenWhenDisposedTwice()
    {
        var limiter = new SessionLimiter(new SessionLimitSettings { Total = 2, PerAgent = 1, PerClientAddress = 1 });
        limiter.TryAdmit("a", "10.0.0.1", out IDisposable? first, out _);
        limiter.TryAdmit("b", "10.0.0.2", out _, out _);

        first!.Dispose();
        first.Dispose();

        Assert.Equal(1, limiter.Total);
        Assert.True(limiter.TryAdmit("a", "10.0.0.1", out _, out _));
        Assert.False(limiter.TryAdmit("c", "10.0.0.3", out _, out _));
    }

    [Fact]
    public void Apply_NewLimits_JudgeTheNextNewcomer_AndCloseNoOpenSession()
    {
        var limiter = new SessionLimiter(new SessionLimitSettings { Total = 3 });
        IDisposable?[] slots = new IDisposable?[3];
        for (int i = 0; i < slots.Length; i++)
        {
            Assert.True(limiter.TryAdmit("a" + i, null, out slots[i], out _));
        }

        limiter.Apply(new SessionLimitSettings { Total = 1 });

        Assert.Equal(3, limiter.Total);
        Assert.Equal(1, limiter.Settings.Total);
        Assert.False(limiter.TryAdmit("newcomer", null, out _, out _));
        slots[0]!.Dispose();
        slots[1]!.Dispose();
        Assert.False(limiter.TryAdmit("newcomer", null, out _, out _));
        slots[2]!.Dispose();
        Assert.True(limiter.TryAdmit("newcomer", null, out _, out _));
    }

    [Fact]
    public void TryAdmit_ARefusedNewcomer_TakesNothing()
    {
        var limiter = new SessionLimiter(new SessionLimitSettings { Total = 5, PerAgent = 1 });
        limiter.TryAdmit("a", "10.0.0.1", out _, out _);

        for (int i = 0; i < 10; i++)
        {
            limiter.TryAdmit("a", "10.0.0.1", out _, out _);
        }

        Assert.Equal(1, limiter.Total);
        Assert.True(limiter.TryAdmit("b", "10.0.0.1", out _, out _));
    }
}
