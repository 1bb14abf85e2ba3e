using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Identity.Sessions;

/// <summary>
/// What a stateful session's id carries, so that any replica holding the key can resume the session: the SDK's own
/// id for it (migrated sessions keep it), the agent it was bound to and the credential that owns it when it started,
/// what the client said at <c>initialize</c> (protocol version, capabilities, client info) and when it was issued.
/// </summary>
/// <param name="SessionId">The SDK's session id, which the client never sees. Never log it.</param>
/// <param name="Agent">The agent the session was bound to at its start; null when it bound later, or never.</param>
/// <param name="Owner">The user id of the credential that created it (<see cref="AuthenticatedCaller.UserId"/>); null when unauthenticated.</param>
/// <param name="Initialize">The client's <c>initialize</c> params, as JSON.</param>
internal sealed record SessionTicket(string SessionId, string? Agent, string? Owner, ReadOnlyMemory<byte> Initialize, DateTimeOffset IssuedAt)
{
    /// <summary>Above this the initialize params keep only what the gateway uses (capabilities it forwards, the client's name).</summary>
    internal const int MaxInitializeBytes = 2048;

    private const int MaxNameLength = 256;

    private static readonly JsonTypeInfo<InitializeRequestParams> s_initializeType =
        (JsonTypeInfo<InitializeRequestParams>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(InitializeRequestParams));

    /// <summary>
    /// True when <paramref name="principal"/> is the credential that created the session (or both are anonymous): the
    /// rule the SDK applies to the sessions it holds (same user id, or none on both sides), applied to every request
    /// that names the session, on every replica.
    /// </summary>
    public bool IsOwnedBy(AuthenticatedCaller? principal) => string.Equals(Owner, principal?.UserId, StringComparison.Ordinal);

    /// <summary>The params a resumed session starts from, as if the client had just sent them; null when they no longer read.</summary>
    public InitializeRequestParams? InitializeParams()
    {
        try
        {
            return JsonSerializer.Deserialize(Initialize.Span, s_initializeType);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The initialize params as the ticket keeps them: without <c>_meta</c> (it described that one request), and cut
    /// down to the capabilities the gateway forwards and the client's name when a client sends more than a header can
    /// comfortably carry.
    /// </summary>
    public static byte[] SerializeInitialize(InitializeRequestParams parameters)
    {
        var kept = new InitializeRequestParams { ProtocolVersion = parameters.ProtocolVersion, Capabilities = parameters.Capabilities, ClientInfo = parameters.ClientInfo };
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(kept, s_initializeType);
        if (json.Length <= MaxInitializeBytes)
        {
            return json;
        }

        kept.Capabilities = new ClientCapabilities { Roots = parameters.Capabilities?.Roots, Sampling = parameters.Capabilities?.Sampling, Elicitation = parameters.Capabilities?.Elicitation };
        kept.ClientInfo = new Implementation { Name = Cut(parameters.ClientInfo?.Name) ?? "unknown", Title = Cut(parameters.ClientInfo?.Title), Version = Cut(parameters.ClientInfo?.Version) ?? "unknown" };
        kept.ProtocolVersion = Cut(parameters.ProtocolVersion) ?? string.Empty;
        return JsonSerializer.SerializeToUtf8Bytes(kept, s_initializeType);
    }

    private static string? Cut(string? text) => text is { Length: > MaxNameLength } ? text[..MaxNameLength] : text;
}
