using System.Buffers;
using System.Text.Json;
using System.Text.RegularExpressions;
using ModelContextProtocol;

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
            return null;
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

    /// <summary>A complete JSON-RPC error response for a refused message, echoing its id when one can be read.</summary>
    public static byte[] ErrorResponse(ReadOnlySpan<byte> json, string message) => ErrorResponse(json, (int)McpErrorCode.InvalidRequest, message);

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
        catch (JsonException)
        {
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
