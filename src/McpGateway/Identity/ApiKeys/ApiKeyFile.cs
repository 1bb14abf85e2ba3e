using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Configuration;

namespace McpGateway.Identity.ApiKeys;

/// <summary>One key as the keys file keeps it: never the key itself, only its hash.</summary>
public sealed record ApiKeyEntry
{
    public required string Id { get; init; }

    public required string Agent { get; init; }

    public string? Label { get; init; }

    public required DateTimeOffset Created { get; init; }

    public DateTimeOffset? Expires { get; init; }

    public DateTimeOffset? Revoked { get; init; }

    /// <summary>The stored hash, <c>sha256:…</c>.</summary>
    public required string Hash { get; init; }

    public bool IsActive(DateTimeOffset now) => Revoked is null && (Expires is null || Expires > now);

    /// <summary>"active", "revoked" or "expired", as <c>keys list</c> shows it.</summary>
    public string State(DateTimeOffset now) => Revoked is not null ? "revoked" : Expires is not null && Expires <= now ? "expired" : "active";
}

/// <summary>
/// The keys file: <c>{"keys": [{"id", "agent", "label", "created", "expires", "revoked", "hash"}]}</c>. Written by
/// <c>mcp-gateway keys</c> (atomically: a new file renamed over the old, so the gateway never reads half of one) and
/// read by the gateway, which picks up every change without a restart. Validated like the other files.
/// </summary>
public static class ApiKeyFile
{
    private static readonly string[] s_topLevel = ["keys", "$schema"];
    private static readonly string[] s_entry = ["id", "agent", "label", "created", "expires", "revoked", "hash"];

    public static ConfigLoadResult<IReadOnlyList<ApiKeyEntry>> Load(string path)
    {
        ConfigDocument? document = ConfigurationLoader.ReadDocument(path, _ => null, out ConfigDiagnostic? failure, ConfigDocument.Shapes.Keys);
        return document is null ? new ConfigLoadResult<IReadOnlyList<ApiKeyEntry>>(null, [failure!]) : Parse(document);
    }

    public static ConfigLoadResult<IReadOnlyList<ApiKeyEntry>> Parse(string file, string json) =>
        Parse(ConfigDocument.Read(file, System.Text.Encoding.UTF8.GetBytes(json), _ => null, ConfigDocument.Shapes.Keys));

    private static ConfigLoadResult<IReadOnlyList<ApiKeyEntry>> Parse(ConfigDocument document)
    {
        var reader = new JsonNodeReader(document);
        var entries = new List<ApiKeyEntry>();
        if (document.Root is not null && reader.Object(document.Root, JsonPath.Root, "the keys file is a JSON object: {\"keys\": [...]}; write it with 'mcp-gateway keys add'.") is { } root)
        {
            reader.UnknownProperties(root, JsonPath.Root, s_topLevel, asErrors: true, "keys file");
            if (root["keys"] is JsonArray array)
            {
                var seen = new HashSet<string>(StringComparer.Ordinal);
                for (int i = 0; i < array.Count; i++)
                {
                    if (ParseEntry(reader, array[i], JsonPath.Index("$.keys", i)) is { } entry)
                    {
                        if (!seen.Add(entry.Id))
                        {
                            reader.Diagnostics.Error(JsonPath.Index("$.keys", i), $"key id '{entry.Id}' appears more than once.", "remove one of them.");
                            continue;
                        }

                        entries.Add(entry);
                    }
                }
            }
            else if (root.ContainsKey("keys"))
            {
                reader.Diagnostics.Error("$.keys", $"expected an array but found {JsonNodeReader.Describe(root["keys"])}.", "write \"keys\": [].");
            }
        }

        DiagnosticBag bag = document.Diagnostics;
        return new ConfigLoadResult<IReadOnlyList<ApiKeyEntry>>(bag.HasErrors ? null : entries, bag.Items);
    }

    private static ApiKeyEntry? ParseEntry(JsonNodeReader reader, JsonNode? node, string path)
    {
        if (reader.Object(node, path, "each key is an object written by 'mcp-gateway keys add'.") is not { } obj)
        {
            return null;
        }

        reader.UnknownProperties(obj, path, s_entry, asErrors: true, "key");
        string? id = reader.String(obj["id"], JsonPath.Property(path, "id"), "write the key's 8-digit id.");
        string? agent = reader.String(obj["agent"], JsonPath.Property(path, "agent"), "write the agent the key belongs to.");
        string? label = obj.ContainsKey("label") && obj["label"] is not null ? reader.String(obj["label"], JsonPath.Property(path, "label"), "write a short label.", allowEmpty: true) : null;
        DateTimeOffset? created = Time(reader, obj, path, "created", required: true);
        DateTimeOffset? expires = Time(reader, obj, path, "expires", required: false);
        DateTimeOffset? revoked = Time(reader, obj, path, "revoked", required: false);
        string hashPath = JsonPath.Property(path, "hash");
        string? hash = reader.String(obj["hash"], hashPath, "write the key's hash as 'mcp-gateway keys add' printed it into this file.");
        if (hash is not null && ApiKey.ParseHash(hash) is null)
        {
            // Never echo it: a key pasted here by mistake would end up in a log.
            reader.Diagnostics.Error(hashPath, "is not a key hash (sha256:…).", "store the hash, never the key itself; add keys with 'mcp-gateway keys add'.");
            hash = null;
        }

        if (id is not null && (id.Length != 8 || !id.All(char.IsAsciiHexDigitLower)))
        {
            reader.Diagnostics.Error(JsonPath.Property(path, "id"), "is not an 8-digit lowercase hex key id.", "keep the id 'mcp-gateway keys add' wrote.");
            id = null;
        }

        return id is null || agent is null || created is null || hash is null
            ? null
            : new ApiKeyEntry { Id = id, Agent = agent, Label = label, Created = created.Value, Expires = expires, Revoked = revoked, Hash = hash };
    }

    private static DateTimeOffset? Time(JsonNodeReader reader, JsonObject obj, string path, string name, bool required)
    {
        string itemPath = JsonPath.Property(path, name);
        if (obj[name] is null)
        {
            if (required)
            {
                reader.Diagnostics.Error(itemPath, "is missing.", "write the time as ISO 8601, for example \"2026-12-01T00:00:00Z\".");
            }

            return null;
        }

        string? text = reader.String(obj[name], itemPath, "write the time as ISO 8601, for example \"2026-12-01T00:00:00Z\".");
        if (text is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset value))
        {
            return value;
        }

        reader.Diagnostics.Error(itemPath, "is not a date and time.", "write ISO 8601, for example \"2026-12-01T00:00:00Z\".");
        return null;
    }

    /// <summary>Writes the file atomically (a sibling temporary file renamed over it), readable only by its owner.</summary>
    public static void Save(string path, IReadOnlyList<ApiKeyEntry> entries)
    {
        var keys = new JsonArray();
        foreach (ApiKeyEntry entry in entries)
        {
            var obj = new JsonObject { ["id"] = entry.Id, ["agent"] = entry.Agent };
            if (entry.Label is not null)
            {
                obj["label"] = entry.Label;
            }

            obj["created"] = Format(entry.Created);
            if (entry.Expires is { } expires)
            {
                obj["expires"] = Format(expires);
            }

            if (entry.Revoked is { } revoked)
            {
                obj["revoked"] = Format(revoked);
            }

            obj["hash"] = entry.Hash;
            keys.Add(obj);
        }

        string json = new JsonObject { ["keys"] = keys }.ToJsonString(new JsonSerializerOptions { WriteIndented = true, TypeInfoResolver = GatewayJsonContext.Default });
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        string temporary = Path.Combine(folder, "." + Path.GetFileName(path) + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        using (var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false)))
        {
            writer.Write(json);
            writer.Write('\n');
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
