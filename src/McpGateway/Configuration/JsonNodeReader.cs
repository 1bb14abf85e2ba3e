using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.Configuration;

/// <summary>Typed reads from a configuration tree that report a precise diagnostic instead of throwing.</summary>
internal sealed class JsonNodeReader(ConfigDocument document)
{
    public DiagnosticBag Diagnostics => document.Diagnostics;

    /// <summary>True when the value at <paramref name="path"/> came from the environment and must not be echoed.</summary>
    public bool IsSubstituted(string path) => document.IsSubstituted(path);

    public static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "an array",
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "true/false",
            _ => "a value",
        },
        _ => "a value",
    };

    public JsonObject? Object(JsonNode? node, string path, string fix)
    {
        if (node is JsonObject obj)
        {
            return obj;
        }

        Diagnostics.Error(path, $"expected an object but found {Describe(node)}.", fix);
        return null;
    }

    public string? String(JsonNode? node, string path, string fix, bool allowEmpty = false)
    {
        // A variable that could not be expanded is already reported; its placeholder must not cause a second error.
        if (document.IsUnresolved(path))
        {
            return null;
        }

        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            string text = value.GetValue<string>();
            if (!allowEmpty && text.Length == 0 && !document.IsSubstituted(path))
            {
                Diagnostics.Error(path, "must not be empty.", fix);
                return null;
            }

            return text;
        }

        Diagnostics.Error(path, $"expected a string but found {Describe(node)}.", fix);
        return null;
    }

    public bool? Boolean(JsonNode? node, string path)
    {
        if (document.IsUnresolved(path))
        {
            return null;
        }

        if (node is JsonValue value)
        {
            switch (value.GetValueKind())
            {
                case JsonValueKind.True:
                    return true;
                case JsonValueKind.False:
                    return false;
                case JsonValueKind.String when document.IsSubstituted(path) && bool.TryParse(value.GetValue<string>(), out bool parsed):
                    // "${FLAG:-true}" arrives as a string after substitution; a quoted "false" written as such is a mistake.
                    return parsed;
            }
        }

        Diagnostics.Error(path, $"expected true or false but found {Describe(node)}.", "write true or false without quotes.");
        return null;
    }

    /// <summary>A positive whole number of milliseconds; numeric strings are accepted because substitution yields strings.</summary>
    public TimeSpan? Milliseconds(JsonNode? node, string path)
    {
        if (document.IsUnresolved(path))
        {
            return null;
        }

        long? ms = null;
        if (node is JsonValue value)
        {
            if (value.GetValueKind() == JsonValueKind.Number && value.TryGetValue(out long n))
            {
                ms = n;
            }
            else if (value.GetValueKind() == JsonValueKind.String && long.TryParse(value.GetValue<string>(), out long parsed))
            {
                ms = parsed;
            }
        }

        if (ms is > 0 and <= 86_400_000)
        {
            return TimeSpan.FromMilliseconds(ms.Value);
        }

        Diagnostics.Error(
            path,
            ms is null ? $"expected a whole number of milliseconds but found {Describe(node)}." : $"{ms} is out of range.",
            "write a whole number of milliseconds between 1 and 86400000, for example 30000.");
        return null;
    }

    public List<string>? StringArray(JsonNode? node, string path, string fix)
    {
        if (node is not JsonArray array)
        {
            Diagnostics.Error(path, $"expected an array of strings but found {Describe(node)}.", fix);
            return null;
        }

        var result = new List<string>(array.Count);
        for (int i = 0; i < array.Count; i++)
        {
            string? item = String(array[i], JsonPath.Index(path, i), fix, allowEmpty: true);
            if (item is not null)
            {
                result.Add(item);
            }
        }

        return result;
    }

    public Dictionary<string, string>? StringMap(JsonNode? node, string path, string fix)
    {
        if (node is not JsonObject obj)
        {
            Diagnostics.Error(path, $"expected an object of string values but found {Describe(node)}.", fix);
            return null;
        }

        var result = new Dictionary<string, string>(obj.Count, StringComparer.Ordinal);
        foreach ((string key, JsonNode? value) in obj)
        {
            string itemPath = JsonPath.Property(path, key);
            if (value is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            {
                result[key] = v.GetValue<string>();
            }
            else
            {
                // Never echo the value: env and header values are often secrets.
                Diagnostics.Error(itemPath, $"expected a string but found {Describe(value)}.", fix);
            }
        }

        return result;
    }

    /// <summary>Reports properties that are not in <paramref name="known"/>, suggesting the closest known name.</summary>
    public void UnknownProperties(JsonObject obj, string path, IReadOnlyCollection<string> known, bool asErrors, string what)
    {
        foreach ((string key, _) in obj)
        {
            if (known.Contains(key))
            {
                continue;
            }

            string? suggestion = Closest(key, known);
            string message = asErrors
                ? $"'{key}' is not a known {what} property."
                : $"'{key}' is not a known {what} property and is ignored.";
            string fix = suggestion is not null
                ? $"did you mean '{suggestion}'?"
                : $"remove it; known properties are {string.Join(", ", known.Select(k => "'" + k + "'"))}.";
            if (asErrors)
            {
                Diagnostics.Error(JsonPath.Property(path, key), message, fix);
            }
            else
            {
                Diagnostics.Warning(JsonPath.Property(path, key), message, fix);
            }
        }
    }

    public static string? Closest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in candidates)
        {
            int distance = Distance(word.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        return bestDistance <= Math.Max(1, word.Length / 3) && bestDistance < word.Length ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
