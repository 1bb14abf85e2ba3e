using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.Diagnostics;

/// <summary>
/// Writes an <see cref="AuditRecord"/> as one JSON object with <see cref="Utf8JsonWriter"/> directly: no reflection,
/// no intermediate strings, property names encoded once. Null fields are left out.
/// </summary>
internal static class AuditRecordJson
{
    /// <summary>
    /// Non-ASCII text stays readable (agent names, URIs with <c>&amp;</c> and <c>+</c> in them), while quotes,
    /// backslashes, control characters and line and paragraph separators are escaped, so a record is always one line.
    /// </summary>
    public static JsonWriterOptions WriterOptions { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    /// <summary>
    /// Invisible format characters (bidirectional overrides, zero-width spaces), which the relaxed encoder lets
    /// through and which can make a line in a terminal read differently from what it holds. A string with one is
    /// written with every non-ASCII character escaped instead.
    /// </summary>
    private static readonly SearchValues<char> s_invisible = SearchValues.Create(FormatCharacters());

    private static readonly JsonEncodedText s_time = JsonEncodedText.Encode("time");
    private static readonly JsonEncodedText s_agent = JsonEncodedText.Encode("agent");
    private static readonly JsonEncodedText s_identitySource = JsonEncodedText.Encode("identitySource");
    private static readonly JsonEncodedText s_credentialId = JsonEncodedText.Encode("credentialId");
    private static readonly JsonEncodedText s_session = JsonEncodedText.Encode("session");
    private static readonly JsonEncodedText s_clientAddress = JsonEncodedText.Encode("clientAddress");
    private static readonly JsonEncodedText s_method = JsonEncodedText.Encode("method");
    private static readonly JsonEncodedText s_server = JsonEncodedText.Encode("server");
    private static readonly JsonEncodedText s_item = JsonEncodedText.Encode("item");
    private static readonly JsonEncodedText s_originalItem = JsonEncodedText.Encode("originalItem");
    private static readonly JsonEncodedText s_decision = JsonEncodedText.Encode("decision");
    private static readonly JsonEncodedText s_rule = JsonEncodedText.Encode("rule");
    private static readonly JsonEncodedText s_outcome = JsonEncodedText.Encode("outcome");
    private static readonly JsonEncodedText s_errorCode = JsonEncodedText.Encode("errorCode");
    private static readonly JsonEncodedText s_error = JsonEncodedText.Encode("error");
    private static readonly JsonEncodedText s_latencyMs = JsonEncodedText.Encode("latencyMs");
    private static readonly JsonEncodedText s_requestBytes = JsonEncodedText.Encode("requestBytes");
    private static readonly JsonEncodedText s_responseBytes = JsonEncodedText.Encode("responseBytes");
    private static readonly JsonEncodedText s_arguments = JsonEncodedText.Encode("arguments");

    private static readonly JsonEncodedText[] s_outcomes =
    [
        JsonEncodedText.Encode("result"),
        JsonEncodedText.Encode("tool-error"),
        JsonEncodedText.Encode("protocol-error"),
        JsonEncodedText.Encode("timeout"),
        JsonEncodedText.Encode("cancelled"),
        JsonEncodedText.Encode("refused"),
    ];

    public static void Write(Utf8JsonWriter writer, AuditRecord record, bool includeArguments)
    {
        writer.WriteStartObject();
        WriteTime(writer, record.Time);
        WriteIfSet(writer, s_agent, record.Agent);
        WriteText(writer, s_identitySource, record.IdentitySource);
        WriteIfSet(writer, s_credentialId, record.CredentialId);
        WriteIfSet(writer, s_session, record.Session);
        WriteIfSet(writer, s_clientAddress, record.ClientAddress);
        WriteText(writer, s_method, record.Method);
        WriteIfSet(writer, s_server, record.Server);
        WriteIfSet(writer, s_item, record.Item);
        WriteIfSet(writer, s_originalItem, record.OriginalItem);
        WriteText(writer, s_decision, record.Decision);
        WriteIfSet(writer, s_rule, record.Rule);
        writer.WriteString(s_outcome, Outcome(record.Outcome));
        if (record.ErrorCode is int code)
        {
            writer.WriteNumber(s_errorCode, code);
        }

        WriteIfSet(writer, s_error, record.Error);
        WriteLatency(writer, record.LatencyMs);
        writer.WriteNumber(s_requestBytes, record.RequestBytes);
        writer.WriteNumber(s_responseBytes, record.ResponseBytes);
        if (includeArguments && record.Arguments is { } arguments)
        {
            writer.WritePropertyName(s_arguments);
            WriteNode(writer, arguments);
        }

        writer.WriteEndObject();
    }

    private static JsonEncodedText Outcome(AuditOutcome outcome) =>
        (uint)outcome < (uint)s_outcomes.Length ? s_outcomes[(int)outcome] : throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null);

    private static void WriteIfSet(Utf8JsonWriter writer, JsonEncodedText name, string? value)
    {
        if (value is not null)
        {
            WriteText(writer, name, value);
        }
    }

    private static void WriteText(Utf8JsonWriter writer, JsonEncodedText name, string value)
    {
        if (HasInvisible(value))
        {
            writer.WriteString(name, JsonEncodedText.Encode(value, JavaScriptEncoder.Default));
        }
        else
        {
            writer.WriteString(name, value);
        }
    }

    private static void WriteText(Utf8JsonWriter writer, string value)
    {
        if (HasInvisible(value))
        {
            writer.WriteStringValue(JsonEncodedText.Encode(value, JavaScriptEncoder.Default));
        }
        else
        {
            writer.WriteStringValue(value);
        }
    }

    /// <summary>Like <see cref="JsonNode.WriteTo"/>, but every string and property name goes through the invisible-character check.</summary>
    private static void WriteNode(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject obj:
                writer.WriteStartObject();
                // Indexed rather than foreach: the enumerators are interfaces, and would be allocated per object.
                for (int i = 0; i < obj.Count; i++)
                {
                    KeyValuePair<string, JsonNode?> property = obj.GetAt(i);
                    if (HasInvisible(property.Key))
                    {
                        writer.WritePropertyName(JsonEncodedText.Encode(property.Key, JavaScriptEncoder.Default));
                    }
                    else
                    {
                        writer.WritePropertyName(property.Key);
                    }

                    WriteNode(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                for (int i = 0; i < array.Count; i++)
                {
                    WriteNode(writer, array[i]);
                }

                writer.WriteEndArray();
                break;
            case JsonValue value when value.TryGetValue(out string? text):
                WriteText(writer, text);
                break;
            case JsonValue value when value.TryGetValue(out char character):
                WriteText(writer, character.ToString());
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }

    /// <summary>The first format character is U+00AD: text below it, nearly all text here, is cleared by one vectorized range check.</summary>
    private static bool HasInvisible(string value) =>
        value.AsSpan().ContainsAnyExceptInRange('\0', (char)0xAC) && value.AsSpan().ContainsAny(s_invisible);

    private static string FormatCharacters()
    {
        var characters = new System.Text.StringBuilder();
        for (int c = 0; c <= char.MaxValue; c++)
        {
            if (CharUnicodeInfo.GetUnicodeCategory((char)c) == UnicodeCategory.Format)
            {
                characters.Append((char)c);
            }
        }

        return characters.ToString();
    }

    /// <summary>Round-trip format cut to milliseconds (<c>2026-07-28T09:15:02.123Z</c>): truncated, never rounded into the next second.</summary>
    private static void WriteTime(Utf8JsonWriter writer, DateTimeOffset time)
    {
        Span<byte> buffer = stackalloc byte[40];
        time.UtcDateTime.TryFormat(buffer, out int length, "O", CultureInfo.InvariantCulture);
        // "O" on a UTC DateTime is yyyy-MM-ddTHH:mm:ss.fffffffZ: keep 23 characters and the Z.
        if (length == 28)
        {
            buffer[23] = (byte)'Z';
            length = 24;
        }

        writer.WriteString(s_time, buffer[..length]);
    }

    /// <summary>
    /// Fixed three decimals, so a column of latencies lines up; nonsense (negative, NaN) is written as 0. Formatted
    /// from whole microseconds: formatting the double with a precision costs several times more.
    /// </summary>
    private static void WriteLatency(Utf8JsonWriter writer, double milliseconds)
    {
        double value = double.IsFinite(milliseconds) && milliseconds > 0 ? milliseconds : 0;
        if (value >= long.MaxValue / 1000)
        {
            writer.WriteNumber(s_latencyMs, Math.Round(value, 3));
            return;
        }

        long micros = (long)Math.Round(value * 1000, MidpointRounding.AwayFromZero);
        Span<byte> buffer = stackalloc byte[24];
        Utf8Formatter.TryFormat(micros / 1000, buffer, out int length);
        buffer[length++] = (byte)'.';
        Utf8Formatter.TryFormat(micros % 1000, buffer[length..], out int fraction, new StandardFormat('D', 3));
        writer.WritePropertyName(s_latencyMs);
        writer.WriteRawValue(buffer[..(length + fraction)], skipInputValidation: true);
    }
}
