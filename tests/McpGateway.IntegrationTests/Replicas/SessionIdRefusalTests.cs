using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.Identity.ApiKeys;
using McpGateway.Identity.Sessions;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// A session id is the session's state, sealed: on a replica that never saw the session, an id that was altered,
/// sealed with another key, past its maximum age, or sent with another credential gets exactly what an unknown
/// session gets (404, -32001 "Session not found"), and the refusal is audited without the id; the owner's own
/// requests resume the session. Two replicas with API keys (the same keys file) and the same session key; B's
/// clock is a fake one.
/// </summary>
public sealed class SessionIdRefusalTests
{
    private const string Rules = """
        {"agents": {"alpha": {"allow": {"servers": ["fx"]}}, "beta": {"allow": {"servers": ["fx"]}}}}
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TamperedForeignExpiredAndOtherCredentialsIds_GetWhatAnUnknownSessionGets_OnEveryReplica_AndAreAuditedWithoutTheId()
    {
        string key = SessionKey.Generate();
        string settings = new JsonObject
        {
            ["authentication"] = new JsonObject { ["apiKeys"] = new JsonObject { ["file"] = "keys.json" } },
            ["audit"] = new JsonObject { ["file"] = "audit.jsonl" },
            ["sessions"] = new JsonObject { ["keys"] = new JsonArray(key), ["maxAgeSeconds"] = 3600 },
        }.ToJsonString();
        TestKey alpha = SecurityTestKit.NewKey("alpha"), alphaSecond = SecurityTestKit.NewKey("alpha"), beta = SecurityTestKit.NewKey("beta");
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var clockOfB = new FakeTimeProvider(now);
        await using Replicas replicas = await Replicas.StartAsync(
            TestServers.File(("fx", TestServers.Fixture())), Rules, [settings, settings], Ct,
            prepare: folder => ApiKeyFile.Save(Path.Combine(folder, "keys.json"), [alpha.Entry(now.AddDays(-1)), alphaSecond.Entry(now.AddDays(-1)), beta.Entry(now.AddDays(-1))]),
            services: (replica, services) =>
            {
                if (replica == 1)
                {
                    services.AddSingleton<TimeProvider>(clockOfB);
                }
            });
        replicas.Router.Pinned = 0;
        McpClient owner = await replicas.ConnectAsync(Ct, alpha.Bearer());
        string token = owner.SessionId!;
        Uri b = replicas[1].Endpoint;

        RawResponse madeUp = await CallAsync(b, alpha, "not-a-session-id");
        RawResponse tampered = await CallAsync(b, alpha, Tamper(token));
        RawResponse foreign = await CallAsync(b, alpha, SealWithAnotherKey(replicas[0], token));
        RawResponse sameAgentsOtherKey = await CallAsync(b, alphaSecond, token);
        RawResponse otherAgent = await CallAsync(b, beta, token);
        RawResponse resumedByItsOwner = await CallAsync(b, alpha, token);
        clockOfB.SetUtcNow(IssuedAt(replicas[0], token) + TimeSpan.FromSeconds(3600));
        RawResponse expired = await CallAsync(b, alpha, token);
        RawResponse onA = await CallAsync(replicas[0].Endpoint, alpha, token);

        foreach ((string what, RawResponse response) in new[] { ("made up", madeUp), ("tampered", tampered), ("sealed with another key", foreign), ("another key of the agent", sameAgentsOtherKey), ("another agent's key", otherAgent), ("expired", expired) })
        {
            Assert.True(response.Status == 404, $"{what}: {response}");
            Assert.Equal("application/json", response.ContentType);
            DirectServers.AssertJsonEqual(JsonNode.Parse("""{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"Session not found"}}"""), JsonNode.Parse(response.Body));
        }

        Assert.True(resumedByItsOwner.Status == 200, resumedByItsOwner.ToString());
        Assert.True(onA.Status == 200, "A's clock is an hour behind B's: " + onA);

        List<JsonObject> audit = await SecurityTestKit.ReadAuditAsync(replicas[1], Path.Combine(replicas.Folder(1), "audit.jsonl"), Ct);
        JsonObject[] refusals = SecurityTestKit.HttpRefusals(audit);
        Assert.Equal(6, refusals.Length);
        Assert.All(refusals, r => Assert.Equal(404, r["errorCode"]!.GetValue<int>()));
        Assert.Equal(
            ["session id not issued by this gateway, altered, or sealed with a key it no longer has", "session id not issued by this gateway, altered, or sealed with a key it no longer has", "session id not issued by this gateway, altered, or sealed with a key it no longer has", "session of another credential", "session of another credential", "session id past its maximum age (sessions.maxAgeSeconds)"],
            refusals.Select(r => r["rule"]!.GetValue<string>()));
        Assert.Equal(["alpha", "alpha", "alpha", "alpha", "beta", "alpha"], refusals.Select(r => r["agent"]!.GetValue<string>()));
        string auditText = File.ReadAllText(Path.Combine(replicas.Folder(1), "audit.jsonl"));
        Assert.DoesNotContain(token, auditText, StringComparison.Ordinal);
        Assert.DoesNotContain(replicas[0].SdkSessionId(token), auditText, StringComparison.Ordinal);
    }

    private static DateTimeOffset IssuedAt(InProcessGateway gateway, string token)
    {
        Assert.Equal(TokenRefusal.None, gateway.Services.GetRequiredService<SessionTokens>().Open(token, out SessionTicket? ticket));
        return ticket!.IssuedAt;
    }

    private static Task<RawResponse> CallAsync(Uri endpoint, TestKey key, string sessionId) =>
        SecurityTestKit.PostAsync(endpoint, SecurityTestKit.ToolCall("fx_echo_args"), key.Bearer(), sessionId, Ct);

    /// <summary>One character of the id changed for another (still base64url, so only the seal can tell).</summary>
    private static string Tamper(string token)
    {
        int at = token.Length / 2;
        return token[..at] + (token[at] == 'A' ? 'B' : 'A') + token[(at + 1)..];
    }

    /// <summary>The same ticket (session, agent, owner) sealed with a key the replicas do not have: what a forger would make.</summary>
    private static string SealWithAnotherKey(InProcessGateway gateway, string token)
    {
        Assert.Equal(TokenRefusal.None, gateway.Services.GetRequiredService<SessionTokens>().Open(token, out SessionTicket? ticket));
        var forger = new SessionTokens(new SessionSettings { Keys = [SessionKey.Parse(SessionKey.Generate())!] }, TimeProvider.System);
        return forger.Issue(ticket!);
    }
}
