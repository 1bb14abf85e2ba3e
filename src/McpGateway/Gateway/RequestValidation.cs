using System.Buffers;
using System.Text.Json;
using System.Text.RegularExpressions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>
/// Checks an agent's message before any parser acts on it, on every path (HTTP, stdio, the fast path and the SDK):
/// a key that appears twice in one object is refused with a protocol error, because two JSON readers can disagree on
/// which value wins (the gateway's policy check could read one name and the downstream server the other).
/// </summary>
internal static partial class RequestValidation
{
    private static readonly JsonDocumentOptions s_strict = new() { AllowDuplicateProperties = false, MaxDepth = 128 };

    /// <summary>Null when the message is acceptable JSON; otherwise what is wrong, in words for the agent.</summary>
    public static string? FindProblem(ReadOnlyMemory<byte> json)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(json, s_strict);
            return HasUnpairedSurrogate(json.Span) ? UnpairedSurrogate : null;
        }
        catch (JsonException ex) when (IsWellFormed(json))
        {
            // Only duplicates fail the strict parse of well-formed JSON; the runtime's message names the key.
            Match match = DuplicateName().Match(ex.Message);
            string key = match.Success ? " '" + Cut(match.Groups["name"].Value) + "'" : string.Empty;
            return $"The message has the key{key} more than once in one object; send each key once.";
        }
        catch (JsonException)
        {
            // Malformed JSON is answered by the usual parser, as always.
            return null;
        }
        catch (InvalidOperationException)
        {
            // Comparing keys means unescaping them, and a key holding half a surrogate pair cannot be.
            return UnpairedSurrogate;
        }
    }

    private const string UnpairedSurrogate =
        "The message has a string that is not valid Unicode text (an escaped unpaired surrogate such as \\ud800): JSON-RPC messages are UTF-8, which cannot hold one.";

    /// <summary>
    /// True when a string or key escapes half a surrogate pair. Every reader that unescapes it (the fast path, the
    /// SDK, the gateway's handlers) throws, and not with a JsonException. Only messages with a <c>\ud</c> escape at
    /// all are read again.
    /// </summary>
    private static bool HasUnpairedSurrogate(ReadOnlySpan<byte> json)
    {
        if (json.IndexOf("\\ud"u8) < 0 && json.IndexOf("\\uD"u8) < 0)
        {
            return false;
        }

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = s_strict.MaxDepth });
        char[]? buffer = null;
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
                {
                    int length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
                    if (buffer is null || buffer.Length < length)
                    {
                        if (buffer is not null)
                        {
                            ArrayPool<char>.Shared.Return(buffer);
                        }

                        buffer = ArrayPool<char>.Shared.Rent(length);
                    }

                    try
                    {
                        reader.CopyString(buffer);
                    }
                    catch (InvalidOperationException)
                    {
                        return true;
                    }
                }
            }
        }
        catch (JsonException)
        {
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<char>.Shared.Return(buffer);
            }
        }

        return false;
    }

    private static bool IsWellFormed(ReadOnlyMemory<byte> json)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = s_strict.MaxDepth });
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Cut(string name) => name.Length <= 64 ? name : name[..64] + "…";

    /// <summary>
    /// For an <c>initialize</c> request whose params the SDK cannot read (capabilities that are a string, no
    /// clientInfo...), what is wrong; otherwise null. The SDK reads them itself when it creates the session: over
    /// HTTP it throws (a 500, after creating a session the client never learns about), over stdio it answers
    /// −32603 "An error occurred.". Read here with the SDK's own contract, so the answer is a clear −32602 instead.
    /// </summary>
    public static string? InitializeProblem(ReadOnlyMemory<byte> json)
    {
        if (json.Span.IndexOf("\"initialize\""u8) < 0 || MethodOf(json.Span) != "initialize")
        {
            return null;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            if (!document.RootElement.TryGetProperty("params"u8, out JsonElement parameters) || parameters.ValueKind == JsonValueKind.Null)
            {
                // The SDK accepts an initialize without params.
                return null;
            }

            JsonSerializer.Deserialize(parameters, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(InitializeRequestParams)));
            return null;
        }
        catch (JsonException)
        {
            return "The initialize request's params do not have the shape the MCP schema gives them: an object with protocolVersion (a string), capabilities (an object) and clientInfo ({\"name\", \"version\"}).";
        }
    }

    /// <summary>A complete JSON-RPC error response for a refused message, echoing its id when one can be read.</summary>
    public static byte[] ErrorResponse(ReadOnlySpan<byte> json, string message, McpErrorCode code = McpErrorCode.InvalidRequest) => ErrorResponse(json, (int)code, message);

    /// <summary>The same with <paramref name="code"/>, and the error's <c>data</c> when <paramref name="writeData"/> writes it (as one JSON value).</summary>
    public static byte[] ErrorResponse(ReadOnlySpan<byte> json, int code, string message, Action<Utf8JsonWriter>? writeData = null)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("jsonrpc"u8, "2.0"u8);
            writer.WritePropertyName("id"u8);
            if (IdOf(json) is { IsEmpty: false } id)
            {
                writer.WriteRawValue(id, skipInputValidation: true);
            }
            else
            {
                writer.WriteNullValue();
            }

            writer.WriteStartObject("error"u8);
            writer.WriteNumber("code"u8, code);
            writer.WriteString("message"u8, message);
            if (writeData is not null)
            {
                writer.WritePropertyName("data"u8);
                writeData(writer);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The top-level <c>method</c> of a message, or null.</summary>
    public static string? MethodOf(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isMethod = reader.ValueTextEquals("method"u8);
                reader.Read();
                if (isMethod && reader.TokenType == JsonTokenType.String)
                {
                    return reader.GetString();
                }

                reader.Skip();
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a method name escaping half a surrogate pair, which no method has.
        }

        return null;
    }

    /// <summary>The raw top-level <c>id</c> (a number or string), or empty.</summary>
    private static ReadOnlySpan<byte> IdOf(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isId = reader.ValueTextEquals("id"u8);
                reader.Read();
                if (isId && reader.TokenType is JsonTokenType.Number or JsonTokenType.String)
                {
                    return json.Slice((int)reader.TokenStartIndex, (int)(reader.BytesConsumed - reader.TokenStartIndex));
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
        }

        return default;
    }

    [GeneratedRegex("^Duplicate property '(?<name>.*)' encountered", RegexOptions.CultureInvariant)]
    private static partial Regex DuplicateName();
}
