using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.Configuration;

/// <summary>
/// A configuration file read into a <see cref="JsonNode"/> tree with <c>${VAR}</c> already expanded in every string value,
/// duplicate keys reported, and the position of every value remembered for diagnostics.
/// Comments and trailing commas are accepted (the files <c>mcp-gateway init</c> writes carry comments).
/// </summary>
internal sealed class ConfigDocument
{
    private const int MaxDepth = 64;
    private readonly HashSet<string> _substitutedPaths = new(StringComparer.Ordinal);
    private readonly HashSet<string> _unresolvedPaths = new(StringComparer.Ordinal);

    private ConfigDocument(string file, JsonNode? root, DiagnosticBag diagnostics, JsonPositionMap positions)
    {
        File = file;
        Root = root;
        Diagnostics = diagnostics;
        Positions = positions;
    }

    public string File { get; }

    /// <summary>The parsed tree, or null when the file is not valid JSON (the reason is in <see cref="Diagnostics"/>).</summary>
    public JsonNode? Root { get; private set; }

    public DiagnosticBag Diagnostics { get; }

    public JsonPositionMap Positions { get; }

    /// <summary>True when the string at <paramref name="path"/> came (partly) from the environment: never echo it.</summary>
    public bool IsSubstituted(string path) => _substitutedPaths.Contains(path);

    /// <summary>True when the string at <paramref name="path"/> names a variable that could not be expanded (already reported).</summary>
    public bool IsUnresolved(string path) => _unresolvedPaths.Contains(path);

    /// <summary>What an empty file of each kind should hold, for the hint.</summary>
    public static class Shapes
    {
        public const string Servers = "write the servers as a JSON object, for example {\"mcpServers\": {\"name\": {\"command\": \"...\"}}}.";
        public const string Rules = "write the rules as a JSON object, for example {\"agents\": {\"name\": {\"allow\": {\"servers\": [\"*\"]}}}}.";
        public const string Settings = "write the settings as a JSON object (every key is optional), for example {\"audit\": {\"file\": \"audit.jsonl\"}}, or delete the file.";
        public const string Keys = "write {\"keys\": []}, or add a key with 'mcp-gateway keys add'.";
    }

    public static ConfigDocument Read(string file, byte[] utf8, Func<string, string?> environment, string emptyFix = Shapes.Servers)
    {
        var positions = new JsonPositionMap(utf8);
        var diagnostics = new DiagnosticBag(file, positions);
        var document = new ConfigDocument(file, null, diagnostics, positions);

        ReadOnlySpan<byte> span = utf8;
        if (span.StartsWith("\uFEFF"u8))
        {
            span = span[3..];
        }

        int bomLength = utf8.Length - span.Length;
        if (span.Trim(" \t\r\n"u8).IsEmpty)
        {
            diagnostics.Error(JsonPath.Root, "the file is empty.", emptyFix);
            return document;
        }

        // The JSON reader accepts malformed UTF-8 inside strings and only fails when a string is read, with an
        // exception that is not a JsonException: check the encoding first and say where it breaks.
        if (InvalidUtf8At(span) is int invalid)
        {
            (int Line, int Column) at = positions.ToLineColumn(invalid + bomLength);
            diagnostics.Add(new ConfigDiagnostic(
                DiagnosticSeverity.Error,
                file,
                string.Empty,
                "the file is not valid UTF-8 text.",
                "save the file as UTF-8 (check this position for a character written in another encoding).",
                at.Line,
                at.Column));
            return document;
        }

        var reader = new Utf8JsonReader(span, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            MaxDepth = MaxDepth,
        });

        try
        {
            reader.Read();
            JsonNode? root = document.ReadValue(ref reader, JsonPath.Root, bomLength, environment);
            if (reader.Read())
            {
                throw new JsonException("unexpected content after the end of the JSON value", null, null, null);
            }

            document.Root = root;
        }
        catch (JsonException ex)
        {
            // The reader reports 0-based line and byte-in-line positions; users count lines and characters from 1.
            (int Line, int Column) pos = ex.LineNumber is long l && ex.BytePositionInLine is long c
                ? positions.ToLineColumn(l, c)
                : positions.ToLineColumn((int)Math.Min(reader.TokenStartIndex + bomLength, utf8.Length));

            diagnostics.Add(new ConfigDiagnostic(
                DiagnosticSeverity.Error,
                file,
                string.Empty,
                $"invalid JSON: {DescribeJsonError(ex)}.",
                "correct the JSON syntax at this position (check for a missing comma, quote or bracket).",
                pos.Line,
                pos.Column));
            document.Root = null;
        }

        return document;
    }

    private JsonNode? ReadValue(ref Utf8JsonReader reader, string path, int bomLength, Func<string, string?> environment)
    {
        Positions.Record(path, reader.TokenStartIndex + bomLength);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                return ReadObject(ref reader, path, bomLength, environment);
            case JsonTokenType.StartArray:
                var array = new JsonArray();
                int index = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    array.Add(ReadValue(ref reader, JsonPath.Index(path, index++), bomLength, environment));
                }

                return array;
            case JsonTokenType.String:
                string raw = reader.GetString()!;
                string? expanded = EnvironmentSubstitution.Expand(raw, environment, out string? error, out bool substituted);
                if (error is not null)
                {
                    Diagnostics.Error(path, error + ".", "set the variable before starting the gateway, or give a default with ${NAME:-default}.");
                    _unresolvedPaths.Add(path);
                    return JsonValue.Create(string.Empty);
                }

                if (substituted)
                {
                    _substitutedPaths.Add(path);
                }

                return JsonValue.Create(expanded);
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out long integer))
                {
                    return JsonValue.Create(integer);
                }

                double number = reader.GetDouble();
                if (!double.IsFinite(number))
                {
                    // 1e400 reads as infinity, which no setting can use and no JSON writer can write back.
                    Diagnostics.Error(path, "is a number too large to use.", "write a smaller number.");
                    return null;
                }

                return JsonValue.Create(number);
            case JsonTokenType.True:
                return JsonValue.Create(true);
            case JsonTokenType.False:
                return JsonValue.Create(false);
            case JsonTokenType.Null:
                return null;
            default:
                throw new JsonException($"unexpected token {reader.TokenType}", null, null, null);
        }
    }

    private JsonObject ReadObject(ref Utf8JsonReader reader, string path, int bomLength, Func<string, string?> environment)
    {
        var obj = new JsonObject();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string name = reader.GetString()!;
            string childPath = JsonPath.Property(path, name);
            long nameOffset = reader.TokenStartIndex + bomLength;
            reader.Read();
            if (obj.ContainsKey(name))
            {
                Positions.Record(childPath + "#duplicate", nameOffset);
                (int Line, int Column) where = Positions.ToLineColumn((int)nameOffset);
                Diagnostics.Add(new ConfigDiagnostic(
                    DiagnosticSeverity.Error,
                    File,
                    childPath,
                    $"the key '{name}' appears more than once in the same object; JSON readers disagree on which one wins.",
                    "keep one of them.",
                    where.Line,
                    where.Column));
                ReadValue(ref reader, childPath + "#duplicate", bomLength, environment);
                continue;
            }

            Positions.Record(childPath, nameOffset);
            obj[name] = ReadValue(ref reader, childPath, bomLength, environment);
        }

        return obj;
    }

    /// <summary>The offset of the first byte that is not part of a well-formed UTF-8 sequence, or null.</summary>
    private static int? InvalidUtf8At(ReadOnlySpan<byte> utf8)
    {
        if (System.Text.Unicode.Utf8.IsValid(utf8))
        {
            return null;
        }

        int offset = 0;
        while (offset < utf8.Length && System.Text.Rune.DecodeFromUtf8(utf8[offset..], out _, out int consumed) == System.Buffers.OperationStatus.Done)
        {
            offset += consumed;
        }

        return offset;
    }

    private static string DescribeJsonError(JsonException ex)
    {
        // System.Text.Json appends its own "LineNumber: x | BytePositionInLine: y." which we report separately.
        string message = ex.Message;
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut >= 0)
        {
            message = message[..cut];
        }

        return message.TrimEnd('.', ' ');
    }

}
