using System.Text.Json.Nodes;
using McpGateway.Identity;

namespace McpGateway.Gateway;

/// <summary>
/// What the handlers of one request decided, gathered for its audit record: the request filter writes the record
/// once the request has ended (so every request gets exactly one, with its outcome), from what is here.
/// </summary>
internal sealed class RequestAudit
{
    public Caller Caller { get; set; }

    /// <summary>Set for tool calls: the record is then built from the decision, exactly as the fast path builds it.</summary>
    public ToolCallDecision? Tool { get; set; }

    public string Decision { get; set; } = "allowed";

    public string? Rule { get; set; }

    public string? Server { get; set; }

    public string? Item { get; set; }

    public string? OriginalItem { get; set; }

    /// <summary>The arguments as forwarded (after the identity argument was removed), when the audit records them.</summary>
    public JsonNode? Arguments { get; set; }

    public void Deny(string decision, string? rule, string? server = null, string? item = null)
    {
        Decision = decision;
        Rule = rule;
        Server ??= server;
        Item ??= item;
    }
}
