using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using CsCheck;
using McpGateway.Configuration;
using McpGateway.Identity.Sessions;
using Microsoft.Extensions.Time.Testing;
using ModelContextProtocol.Protocol;

// Sampling and roots are deprecated in 2026-07-28; a 2025-11-25 client still declares them, and the ticket keeps them.
#pragma warning disable MCP9005

namespace McpGateway.Tests.Identity.Sessions;

/// <summary>
/// The session id codec: a ticket sealed with AES-GCM opens again with the same keys (on another instance: another
/// replica) and with nothing else; a changed byte, another key, an expired ticket or garbage never opens; rotation
/// seals with the first key and opens with all.
/// </summary>
public sealed class SessionTokensTests
{
    private static readonly SessionKey s_old = NewKey();
    private static readonly SessionKey s_new = NewKey();

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero));

    private static SessionKey NewKey() => SessionKey.Parse(SessionKey.Generate())!;

    private SessionTokens Tokens(params SessionKey[] keys) => new(new SessionSettings { Keys = keys, MaxAge = TimeSpan.FromHours(1) }, _time);

    private SessionTicket Ticket(string sessionId = "sdk-session-id-0123456789", string? agent = "researcher", string? owner = "https://issuer|client-a") =>
        new(sessionId, agent, owner, SessionTicket.SerializeInitialize(Initialize()), _time.GetUtcNow());

    private static InitializeRequestParams Initialize() => new()
    {
        ProtocolVersion = "2025-11-25",
        Capabilities = new ClientCapabilities { Sampling = new SamplingCapability(), Elicitation = new ElicitationCapability(), Roots = new RootsCapability { ListChanged = true } },
        ClientInfo = new Implementation { Name = "claude-code", Version = "2.1.0" },
        Meta = new System.Text.Json.Nodes.JsonObject { ["progressToken"] = "only-for-that-request" },
    };

    [Fact]
    public void Ticket_OpensOnAnotherInstanceWithTheSameKey_WithEverythingItCarries()
    {
        SessionTicket ticket = Ticket();
        string token = Tokens(s_new).Issue(ticket);

        Assert.Equal(TokenRefusal.None, Tokens(s_new).Open(token, out SessionTicket? opened));
        Assert.Equal((ticket.SessionId, ticket.Agent, ticket.Owner, ticket.IssuedAt), (opened!.SessionId, opened.Agent, opened.Owner, opened.IssuedAt));
        InitializeRequestParams initialize = opened.InitializeParams()!;
        Assert.Equal("2025-11-25", initialize.ProtocolVersion);
        Assert.Equal(("claude-code", "2.1.0"), (initialize.ClientInfo.Name, initialize.ClientInfo.Version));
        Assert.NotNull(initialize.Capabilities.Sampling);
        Assert.NotNull(initialize.Capabilities.Elicitation);
        Assert.True(initialize.Capabilities.Roots!.ListChanged);
        Assert.Null(initialize.Meta);
    }

    [Fact]
    public void Token_IsHeaderSafe_AndShowsNothingItCarries()
    {
        string token = Tokens(s_new).Issue(Ticket());

        Assert.Matches("^[A-Za-z0-9_-]+$", token);
        Assert.InRange(token.Length, 100, 600);
        string decoded = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));
        foreach (string carried in (string[])["sdk-session-id", "researcher", "client-a", "claude-code", "2025-11-25"])
        {
            Assert.DoesNotContain(carried, token, StringComparison.Ordinal);
            Assert.DoesNotContain(carried, decoded, StringComparison.Ordinal);
        }

        // A random nonce: the same ticket sealed twice gives two ids.
        Assert.NotEqual(token, Tokens(s_new).Issue(Ticket()));
    }

    [Fact]
    public void EveryChangedByte_IsUnreadable()
    {
        SessionTokens tokens = Tokens(s_new);
        byte[] bytes = Base64Url.DecodeFromChars(tokens.Issue(Ticket()));
        for (int i = 0; i < bytes.Length; i++)
        {
            byte[] tampered = (byte[])bytes.Clone();
            tampered[i] ^= 0x01;

            Assert.Equal(TokenRefusal.Unreadable, tokens.Open(Base64Url.EncodeToString(tampered), out SessionTicket? ticket));
            Assert.Null(ticket);
        }

        Assert.Equal(TokenRefusal.Unreadable, tokens.Open(Base64Url.EncodeToString(bytes[..^1]), out _));
        Assert.Equal(TokenRefusal.Unreadable, tokens.Open(Base64Url.EncodeToString([.. bytes, 0]), out _));
    }

    [Fact]
    public void AnotherKey_OrTheKeyOfAnotherProcess_IsUnreadable()
    {
        string token = Tokens(s_old).Issue(Ticket());
        string processToken = Tokens().Issue(Ticket());

        Assert.Equal(TokenRefusal.Unreadable, Tokens(s_new).Open(token, out _));
        Assert.Equal(TokenRefusal.Unreadable, Tokens().Open(processToken, out _));
        Assert.Equal(TokenRefusal.Unreadable, Tokens(s_old).Open(processToken, out _));
        Assert.False(Tokens().KeysConfigured);
        Assert.True(Tokens(s_old).KeysConfigured);
    }

    [Fact]
    public void WithoutConfiguredKeys_OneProcessOpensItsOwnTickets()
    {
        SessionTokens tokens = Tokens();

        Assert.Equal(TokenRefusal.None, tokens.Open(tokens.Issue(Ticket()), out _));
    }

    [Fact]
    public void Rotation_SealsWithTheFirstKey_AndOpensWithEveryKey_UntilTheOldOneIsRemoved()
    {
        string sealedWithOld = Tokens(s_old).Issue(Ticket());
        SessionTokens rotating = Tokens(s_new, s_old);
        string sealedNow = rotating.Issue(Ticket());

        Assert.Equal(TokenRefusal.None, rotating.Open(sealedWithOld, out _));
        Assert.Equal(TokenRefusal.None, Tokens(s_new).Open(sealedNow, out _));
        Assert.Equal(TokenRefusal.Unreadable, Tokens(s_old).Open(sealedNow, out _));

        rotating.Apply(new SessionSettings { Keys = [s_new], MaxAge = TimeSpan.FromHours(1) });
        Assert.Equal(TokenRefusal.Unreadable, rotating.Open(sealedWithOld, out _));
        Assert.Equal(TokenRefusal.None, rotating.Open(sealedNow, out _));
    }

    [Fact]
    public void TwoKeysWithTheSameKeyId_AreBothTried()
    {
        // The key id is one byte of a hash: find another key that shares s_old's, deterministically.
        byte id = KeyId(s_old);
        var random = new Random(1234);
        SessionKey clash;
        do
        {
            byte[] bytes = new byte[SessionKey.Length];
            random.NextBytes(bytes);
            clash = new SessionKey(bytes);
        }
        while (KeyId(clash) != id);

        Assert.Equal(TokenRefusal.None, Tokens(clash, s_old).Open(Tokens(s_old).Issue(Ticket()), out _));
        Assert.Equal(TokenRefusal.None, Tokens(s_old, clash).Open(Tokens(clash).Issue(Ticket()), out _));
    }

    [Fact]
    public void Ticket_ExpiresAtItsMaximumAge_OnTheInjectedClock()
    {
        SessionTokens tokens = Tokens(s_new);
        string token = tokens.Issue(Ticket());

        _time.Advance(TimeSpan.FromHours(1) - TimeSpan.FromSeconds(1));
        Assert.Equal(TokenRefusal.None, tokens.Open(token, out SessionTicket? ticket));
        Assert.Equal(ticket!.IssuedAt + TimeSpan.FromHours(1), tokens.ExpiresAt(ticket));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TokenRefusal.Expired, tokens.Open(token, out ticket));
        Assert.Null(ticket);
    }

    [Fact]
    public void HugeInitializeParams_AreCutDown_ToWhatTheGatewayUses()
    {
        InitializeRequestParams huge = Initialize();
        huge.Capabilities.Experimental = new Dictionary<string, object> { ["blob"] = new string('x', 20_000) };
        huge.ClientInfo = new Implementation { Name = new string('n', 5_000), Version = "1", Description = new string('d', 5_000) };

        byte[] json = SessionTicket.SerializeInitialize(huge);
        string token = Tokens(s_new).Issue(new SessionTicket("id", null, null, json, _time.GetUtcNow()));

        Assert.True(json.Length <= SessionTicket.MaxInitializeBytes, json.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(token.Length < 2 * SessionTicket.MaxInitializeBytes);
        Assert.Equal(TokenRefusal.None, Tokens(s_new).Open(token, out SessionTicket? opened));
        InitializeRequestParams kept = opened!.InitializeParams()!;
        Assert.NotNull(kept.Capabilities.Sampling);
        Assert.Null(kept.Capabilities.Experimental);
        Assert.Equal(256, kept.ClientInfo.Name.Length);
    }

    [Fact]
    public void Garbage_NeverOpens_AndNeverThrows()
    {
        SessionTokens tokens = Tokens(s_new);
        string valid = tokens.Issue(Ticket());
        Gen<string> garbage = Gen.OneOf(
            Gen.String,
            Gen.String["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .%"],
            Gen.Int[0, valid.Length - 1].Select(Gen.Char["A-Za-z0-9_-"], (at, c) => valid[..at] + c + valid[(at + 1)..]).Where(t => t != valid),
            Gen.Int[0, valid.Length - 1].Select(at => valid[..at]),
            Gen.Const(new string('A', 9000)),
            Gen.Const(valid + "x"),
            Gen.Const(Base64Url.EncodeToString([2, .. Base64Url.DecodeFromChars(valid).AsSpan(1)])));

        garbage.Sample(text => Assert.Equal(TokenRefusal.Unreadable, tokens.Open(text, out _)), iter: 5_000);
    }

    private static byte KeyId(SessionKey key) =>
        SHA256.HashData([.. Encoding.ASCII.GetBytes("mcp-gateway session key id\n"), .. key.Bytes])[0];
}
