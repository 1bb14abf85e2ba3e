using BenchmarkDotNet.Attributes;
using McpGateway.Configuration;
using McpGateway.Identity.Sessions;
using ModelContextProtocol.Protocol;

namespace McpGateway.Benchmarks;

/// <summary>
/// What a sealed session id costs: every request to a stateful session opens one (AES-256-GCM and a small JSON
/// read); a session's initialize seals one.
/// </summary>
[MemoryDiagnoser]
public class SessionTokenBenchmarks
{
    private SessionTokens _tokens = null!;
    private SessionTicket _ticket = null!;
    private string _token = null!;

    [GlobalSetup]
    public void Setup()
    {
        _tokens = new SessionTokens(new SessionSettings { Keys = [SessionKey.Parse(SessionKey.Generate())!] }, TimeProvider.System);
        var initialize = new InitializeRequestParams
        {
            ProtocolVersion = "2025-11-25",
            Capabilities = new ClientCapabilities { Elicitation = new ElicitationCapability() },
            ClientInfo = new Implementation { Name = "claude-code", Version = "2.1.0" },
        };
        _ticket = new SessionTicket("Zk3oq1XyWcQm9V0sTnL2bA", "researcher", "mcp-gateway|key:3d60e62a", SessionTicket.SerializeInitialize(initialize), DateTimeOffset.UtcNow);
        _token = _tokens.Issue(_ticket);
    }

    [Benchmark]
    public string Issue() => _tokens.Issue(_ticket);

    [Benchmark]
    public bool Open() => _tokens.Open(_token, out SessionTicket? ticket) == TokenRefusal.None && ticket is not null;
}
