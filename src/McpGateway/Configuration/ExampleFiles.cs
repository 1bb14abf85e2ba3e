namespace McpGateway.Configuration;

/// <summary>The commented files <c>mcp-gateway init</c> writes. All three load without errors (a test keeps them so).</summary>
public static class ExampleFiles
{
    // Names no client reads by accident (init used to write .mcp.json, which Claude Code loads as its own file).
    public const string ServersFileName = ConfigDiscovery.ServersFileName;
    public const string RulesFileName = ConfigDiscovery.RulesFileName;
    public const string SettingsFileName = ConfigDiscovery.SettingsFileName;

    public const string Settings = """
        {
          // Everything that is neither a server nor a rule. Every key is optional; environment variables
          // (MCP_GATEWAY_SECTION__KEY, e.g. MCP_GATEWAY_AUDIT__FILE) and command-line flags win over this file.
          "http": {
            // What `serve` listens on without --http (omit to serve stdio). Beyond loopback, authentication is required.
            // "listen": "127.0.0.1:8080",
            "allowedOrigins": []
          },
          "authentication": {
            // API keys: `mcp-gateway keys add --agent NAME` prints a key once and stores its hash in
            // mcp-gateway.keys.json beside this file (or the file named here). Once that file exists (or a token
            // issuer is set below), every HTTP request must authenticate, and the X-Agent-Id header and the
            // agent_id argument may only repeat the authenticated agent.
            // "apiKeys": { "file": "mcp-gateway.keys.json" },
            // OAuth 2.1 access tokens (JWT) from your authorization server:
            // "resource": "https://gateway.example.com/mcp",
            // "jwt": { "authority": "https://login.example.com", "agentClaim": "client_id", "requiredScopes": ["mcp"] }
          },
          "limits": {
            // New sessions over a limit are refused; open ones are never closed to make room.
            "sessions": { "total": 10000, "perAgent": 1000, "perClientAddress": 1000, "idleTimeoutSeconds": 1800 },
            // Calls of servers' tools (directly or through execute_tool) per window for each agent (0: no limit),
            // per-agent overrides, per-tool limits. Lists, prompts, resources and completions do not count;
            // "httpRequests" (HTTP requests per window per caller) bounds every request.
            "rate": { "windowSeconds": 60, "calls": 0, "agents": {}, "tools": {} }
          },
          "audit": {
            // One JSON line per decision and call: a file (rotated by size) or "-" for standard output.
            // "file": "audit.jsonl",
            "arguments": false
          }
        }
        """;

    public const string Servers = """
        {
          // Downstream MCP servers, in the mcpServers format of Claude Desktop, Cursor and Claude Code
          // (VS Code's "servers" key works too). ${VAR} and ${VAR:-default} are replaced from the environment.
          "mcpServers": {
            // A local server the gateway starts as a child process (stdio).
            "everything": {
              "description": "MCP reference server: echo, sums, images, resources and prompts.",
              "command": "npx",
              "args": ["-y", "@modelcontextprotocol/server-everything@2026.8.31"]
            },
            "memory": {
              "description": "Knowledge-graph memory kept in a local file.",
              "command": "npx",
              "args": ["-y", "@modelcontextprotocol/server-memory@2026.8.31"],
              "env": { "MEMORY_FILE_PATH": "${MEMORY_FILE_PATH:-/tmp/mcp-gateway-memory.jsonl}" },
              // Optional: expose tools as "mem_<tool>" instead of "memory_<tool>" ("" means no prefix).
              "prefix": "mem"
            },
            // A remote server (Streamable HTTP; add "type": "sse" for the legacy SSE transport).
            // Disabled until you point it at a real server.
            "remote-example": {
              "url": "https://mcp.example.com/mcp",
              "headers": { "Authorization": "Bearer ${EXAMPLE_TOKEN:-replace-me}" },
              "enabled": false,
              "startTimeoutMs": 30000,
              "callTimeoutMs": 60000
            }
          }
        }
        """;

    public const string Rules = """
        {
          // Who may use what. Agents not listed here get nothing.
          // Order of tool rules: explicit deny, pattern deny, explicit allow, pattern allow,
          // then "allowed" if the agent may use the server and no tool list names it, else denied.
          // Prompts (by name) and resources (by URI) take the same steps, but an agent whose tools of a
          // server are restricted by an allow list gets none of its prompts or resources unless
          // "prompts" / "resources" grant them.
          // Patterns use * and ?; names are case-sensitive. Tool names are the server's own (not prefixed).
          "agents": {
            "assistant": {
              "allow": { "servers": ["*"] },
              "deny": { "tools": { "everything": ["get-env"] } }
            },
            "researcher": {
              "allow": {
                "servers": ["memory", "everything"],
                "tools": { "memory": ["read_graph", "search_*", "open_nodes"] },
                "resources": { "everything": ["demo://resource/static/*"] },
                "prompts": { "everything": ["simple-prompt"] }
              }
            },
            // Only echo: its tools are restricted, so it gets no resources or prompts of "everything".
            "guest": {
              "allow": { "servers": ["everything"], "tools": { "everything": ["echo"] } }
            }
          },
          // The seed-guide shape is accepted too, in a file of its own:
          //   {"access_rules": {"agent": {"servers": ["memory"], "tools": "*"}}}
          "defaults": {
            // Callers that give no identity act as this agent. Remove it to refuse them instead.
            "default_agent": "guest"
          }
        }
        """;
}
