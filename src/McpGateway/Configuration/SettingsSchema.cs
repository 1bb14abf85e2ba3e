using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.Configuration;

/// <summary>What a settings value may be: a scalar, a list of scalars, an object with known keys, or a map with any keys.</summary>
internal abstract record SettingsShape
{
    public static SettingsShape Scalar { get; } = new ScalarShape();

    public static SettingsShape List { get; } = new ListShape();

    public static ObjectShape Object(params (string Name, SettingsShape Shape)[] properties) =>
        new(properties.ToDictionary(p => p.Name, p => p.Shape, StringComparer.Ordinal));

    public static MapShape Map(SettingsShape values) => new(values);
}

internal sealed record ScalarShape : SettingsShape;

internal sealed record ListShape : SettingsShape;

internal sealed record ObjectShape(IReadOnlyDictionary<string, SettingsShape> Properties) : SettingsShape;

/// <summary>
/// Keys chosen by the user (claim values, agent and server names). Read from the file tree rather than through
/// Microsoft.Extensions.Configuration, whose keys cannot hold ':' (claim values are often URLs).
/// </summary>
internal sealed record MapShape(SettingsShape Values) : SettingsShape;

/// <summary>Every key the settings file may hold; the file is checked against it with positions and did-you-mean.</summary>
internal static class SettingsSchema
{
    public static ObjectShape Root { get; } = SettingsShape.Object(
        ("$schema", SettingsShape.Scalar),
        ("http", SettingsShape.Object(
            ("listen", SettingsShape.Scalar),
            ("stateless", SettingsShape.Scalar),
            ("allowedOrigins", SettingsShape.List),
            ("allowUnauthenticated", SettingsShape.Scalar),
            ("maxRequestBodyBytes", SettingsShape.Scalar))),
        ("exposure", SettingsShape.Object(
            ("mode", SettingsShape.Scalar),
            ("separator", SettingsShape.Scalar))),
        ("identity", SettingsShape.Object(
            ("selfAsserted", SettingsShape.Scalar),
            ("header", SettingsShape.Scalar),
            ("argument", SettingsShape.Scalar),
            ("acceptHeader", SettingsShape.Scalar),
            ("acceptArgument", SettingsShape.Scalar))),
        ("authentication", SettingsShape.Object(
            ("resource", SettingsShape.Scalar),
            ("authorizationServers", SettingsShape.List),
            ("apiKeys", SettingsShape.Object(("file", SettingsShape.Scalar))),
            ("jwt", SettingsShape.Object(
                ("authority", SettingsShape.Scalar),
                ("issuer", SettingsShape.Scalar),
                ("jwksUri", SettingsShape.Scalar),
                ("jwksFile", SettingsShape.Scalar),
                ("audiences", SettingsShape.List),
                ("agentClaim", SettingsShape.Scalar),
                ("agents", SettingsShape.Map(SettingsShape.Scalar)),
                ("requiredScopes", SettingsShape.List),
                ("requireHttpsMetadata", SettingsShape.Scalar),
                ("clockSkewSeconds", SettingsShape.Scalar),
                ("keyRefreshSeconds", SettingsShape.Scalar))))),
        ("limits", SettingsShape.Object(
            ("sessions", SettingsShape.Object(
                ("total", SettingsShape.Scalar),
                ("perAgent", SettingsShape.Scalar),
                ("perClientAddress", SettingsShape.Scalar),
                ("idleTimeoutSeconds", SettingsShape.Scalar))),
            ("rate", SettingsShape.Object(
                ("windowSeconds", SettingsShape.Scalar),
                ("calls", SettingsShape.Scalar),
                ("agents", SettingsShape.Map(SettingsShape.Scalar)),
                ("tools", SettingsShape.Map(SettingsShape.Map(SettingsShape.Scalar))),
                ("httpRequests", SettingsShape.Scalar))))),
        ("sessions", SettingsShape.Object(
            ("keys", SettingsShape.List),
            ("maxAgeSeconds", SettingsShape.Scalar))),
        ("audit", SettingsShape.Object(
            ("file", SettingsShape.Scalar),
            ("maxFileBytes", SettingsShape.Scalar),
            ("maxFiles", SettingsShape.Scalar),
            ("arguments", SettingsShape.Scalar),
            ("bufferRecords", SettingsShape.Scalar))),
        ("logging", SettingsShape.Object(
            ("level", SettingsShape.Scalar),
            ("format", SettingsShape.Scalar))),
        ("telemetry", SettingsShape.Object(
            ("metrics", SettingsShape.Scalar),
            ("traces", SettingsShape.Scalar))),
        ("admin", SettingsShape.Object(
            ("agents", SettingsShape.List))),
        ("health", SettingsShape.Object(
            ("readyWhen", SettingsShape.Scalar))),
        ("redis", SettingsShape.Object(
            ("configuration", SettingsShape.Scalar),
            ("keyPrefix", SettingsShape.Scalar))),

        ("supervision", SettingsShape.Object(
            ("reconnectDelayMs", SettingsShape.Scalar),
            ("maxReconnectDelayMs", SettingsShape.Scalar),
            ("crashLoop", SettingsShape.Object(
                ("failures", SettingsShape.Scalar),
                ("windowSeconds", SettingsShape.Scalar),
                ("retrySeconds", SettingsShape.Scalar))))));

    /// <summary>Reports unknown keys and values of the wrong kind (object where a scalar belongs, and so on).</summary>
    public static void Check(JsonNodeReader reader, JsonNode? node, SettingsShape shape, string path)
    {
        switch (shape)
        {
            case ObjectShape obj:
                if (reader.Object(node, path, "write an object here.") is not { } value)
                {
                    return;
                }

                reader.UnknownProperties(value, path, [.. obj.Properties.Keys], asErrors: true, "settings");
                foreach ((string key, JsonNode? child) in value)
                {
                    if (obj.Properties.TryGetValue(key, out SettingsShape? childShape))
                    {
                        Check(reader, child, childShape, JsonPath.Property(path, key));
                    }
                }

                break;
            case MapShape map:
                if (reader.Object(node, path, "write an object keyed by name.") is { } entries)
                {
                    foreach ((string key, JsonNode? child) in entries)
                    {
                        Check(reader, child, map.Values, JsonPath.Property(path, key));
                    }
                }

                break;
            case ListShape:
                if (node is not JsonArray array)
                {
                    reader.Diagnostics.Error(path, $"expected an array but found {JsonNodeReader.Describe(node)}.", "write an array of strings, for example [\"a\", \"b\"].");
                    return;
                }

                for (int i = 0; i < array.Count; i++)
                {
                    if (array[i] is not JsonValue)
                    {
                        reader.Diagnostics.Error(JsonPath.Index(path, i), $"expected a string but found {JsonNodeReader.Describe(array[i])}.", "write a plain value.");
                    }
                }

                break;
            default:
                if (node is JsonObject or JsonArray)
                {
                    reader.Diagnostics.Error(path, $"expected a single value but found {JsonNodeReader.Describe(node)}.", "write a string, number or true/false.");
                }

                break;
        }
    }

    /// <summary>
    /// Flattens the file's values into Microsoft.Extensions.Configuration keys (<c>section:key</c>, list items by
    /// index), leaving out maps (read from the tree) and values of the wrong kind (already reported).
    /// </summary>
    public static void Flatten(JsonNode? node, SettingsShape shape, string key, string path, Dictionary<string, string?> values, Dictionary<string, string> paths)
    {
        switch (shape)
        {
            case ObjectShape obj when node is JsonObject value:
                foreach ((string name, JsonNode? child) in value)
                {
                    if (obj.Properties.TryGetValue(name, out SettingsShape? childShape))
                    {
                        Flatten(child, childShape, key.Length == 0 ? name : key + ":" + name, JsonPath.Property(path, name), values, paths);
                    }
                }

                break;
            case ListShape when node is JsonArray array:
                for (int i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue item)
                    {
                        string itemKey = key + ":" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        values[itemKey] = ScalarText(item);
                        paths[itemKey] = JsonPath.Index(path, i);
                    }
                }

                break;
            case ScalarShape when node is JsonValue scalar:
                values[key] = ScalarText(scalar);
                paths[key] = path;
                break;
            case ScalarShape when node is null:
                // null means "the default".
                break;
        }
    }

    private static string? ScalarText(JsonValue value) => value.GetValueKind() switch
    {
        JsonValueKind.String => value.GetValue<string>(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => value.ToJsonString(),
    };

    /// <summary>True when <paramref name="key"/> (a configuration key, any case) names a scalar or list setting.</summary>
    public static bool IsKnownKey(string key)
    {
        SettingsShape shape = Root;
        foreach (string segment in key.Split(':'))
        {
            switch (shape)
            {
                case ObjectShape obj:
                    KeyValuePair<string, SettingsShape> match = obj.Properties.FirstOrDefault(p => string.Equals(p.Key, segment, StringComparison.OrdinalIgnoreCase));
                    if (match.Value is null)
                    {
                        return false;
                    }

                    shape = match.Value;
                    break;
                case ListShape when int.TryParse(segment, out _):
                    shape = Scalar;
                    break;
                default:
                    return false;
            }
        }

        return shape is ScalarShape or ListShape;
    }

    private static SettingsShape Scalar => SettingsShape.Scalar;
}
