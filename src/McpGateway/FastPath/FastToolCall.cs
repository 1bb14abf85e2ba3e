using System.Text.Json;

namespace McpGateway.FastPath;

/// <summary>
/// A <c>tools/call</c> request simple enough for the fast path, read straight from its bytes: an id, a tool name and
/// an arguments object, nothing else (no <c>_meta</c>, so no progress token; no <c>task</c>; no identity argument).
/// Anything else goes the full way through the SDK.
/// </summary>
internal sealed class FastToolCall
{
    private FastToolCall(ReadOnlyMemory<byte> id, string name, ReadOnlyMemory<byte> arguments)
    {
        Id = id;
        Name = name;
        Arguments = arguments;
    }

    /// <summary>The request id exactly as sent (a JSON number or string).</summary>
    public ReadOnlyMemory<byte> Id { get; }

    public string Name { get; }

    /// <summary>The arguments object exactly as sent, or empty when there were none.</summary>
    public ReadOnlyMemory<byte> Arguments { get; }

    /// <summary>Reads <paramref name="json"/> (which must stay unchanged while the call lives) as a fast-path tool call, or returns null.</summary>
    public static FastToolCall? TryParse(ReadOnlyMemory<byte> json, string agentArgument)
    {
        if (json.Span.IndexOf("\"tools/call\""u8) < 0)
        {
            return null;
        }

        try
        {
            return Parse(json, agentArgument);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string that cannot be unescaped (half a surrogate pair). The full path answers.
            return null;
        }
    }

    private static FastToolCall? Parse(ReadOnlyMemory<byte> json, string agentArgument)
    {
        var reader = new Utf8JsonReader(json.Span);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }

        ReadOnlyMemory<byte> id = default;
        bool isToolsCall = false, isJsonRpc = false;
        string? name = null;
        ReadOnlyMemory<byte> arguments = default;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("jsonrpc"u8))
            {
                reader.Read();
                isJsonRpc = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("2.0"u8);
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                if (reader.TokenType is not (JsonTokenType.Number or JsonTokenType.String))
                {
                    return null;
                }

                int start = (int)reader.TokenStartIndex;
                id = json[start..(int)reader.BytesConsumed];
            }
            else if (reader.ValueTextEquals("method"u8))
            {
                reader.Read();
                isToolsCall = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("tools/call"u8);
            }
            else if (reader.ValueTextEquals("params"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject || !ReadParams(ref reader, json, agentArgument, out name, out arguments))
                {
                    return null;
                }
            }
            else
            {
                return null;
            }
        }

        return isJsonRpc && isToolsCall && !id.IsEmpty && name is not null ? new FastToolCall(id, name, arguments) : null;
    }

    private static bool ReadParams(ref Utf8JsonReader reader, ReadOnlyMemory<byte> json, string agentArgument, out string? name, out ReadOnlyMemory<byte> arguments)
    {
        name = null;
        arguments = default;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("name"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    return false;
                }

                name = reader.GetString();
            }
            else if (reader.ValueTextEquals("arguments"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return false;
                }

                int start = (int)reader.TokenStartIndex;
                int depth = reader.CurrentDepth;
                while (reader.Read() && reader.CurrentDepth > depth)
                {
                    // The identity argument must be stripped and may bind the session: that is the full path's job.
                    if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals(agentArgument))
                    {
                        return false;
                    }

                    if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    {
                        reader.Skip();
                    }
                }

                arguments = json[start..(int)reader.BytesConsumed];
            }
            else
            {
                // _meta (progress tokens), task, or anything else: the full path handles it.
                return false;
            }
        }

        return true;
    }
}
