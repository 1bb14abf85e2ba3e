using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace McpGateway.Diagnostics;

/// <summary>
/// Keeps secrets out of the audit log and the gateway's own logs: argument values under secret-looking keys, and
/// credentials inside text that came from outside (remote error bodies, messages from servers).
/// </summary>
internal static class AuditRedaction
{
    public const string Redacted = "[redacted]";

    /// <summary>Strings in arguments longer than this are cut: the log records what was asked, not the payload.</summary>
    public const int MaxStringLength = 1024;

    /// <summary>Deeper than this, a value is replaced whole: a copy must not be able to overflow the stack.</summary>
    public const int MaxDepth = 64;

    private const string Ellipsis = "…";
    private const int MinCredentialRun = 24;

    /// <summary>Matched anywhere in a key, ignoring case.</summary>
    private static readonly string[] s_secretFragments =
    [
        "password", "passwd", "secret", "token", "apikey", "api_key", "api-key",
        "authorization", "auth", "credential", "cookie", "session", "signature", "private",
    ];

    /// <summary>
    /// A deep copy of <paramref name="arguments"/> in which every value under a secret-looking key (see
    /// <see cref="IsSecretKey"/>) is <c>[redacted]</c>, at any depth, and strings over 1,024 characters are cut
    /// with <c>…(N more chars)</c>. The copy shares nothing with the original, so the writer task can serialize it
    /// while the request goes on with its own.
    /// </summary>
    public static JsonNode? RedactArguments(JsonNode? arguments) => Copy(arguments, depth: 0);

    /// <summary>
    /// A key whose value is treated as a secret: it contains one of password, passwd, secret, token, apikey,
    /// api_key, api-key, authorization, auth, credential, cookie, session, signature or private (ignoring case), or
    /// has "key" or "keys" as a word of its own (<c>key</c>, <c>private_key</c>, <c>accessKey</c>, <c>X-Key-Id</c>)
    /// but not inside another word (<c>keyword</c>, <c>monkey</c>, <c>hotkey</c>).
    /// </summary>
    public static bool IsSecretKey(string key)
    {
        foreach (string fragment in s_secretFragments)
        {
            if (key.Contains(fragment, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return HasKeyWord(key);
    }

    /// <summary>
    /// A bounded single-line excerpt of untrusted text for a log: control characters and line breaks become single
    /// spaces, and so do invisible format characters (bidirectional overrides among them); credentials are
    /// masked before cutting: <c>Bearer x</c> becomes <c>Bearer [redacted]</c>, a secret-looking <c>key=value</c>
    /// keeps only its key, and any run of 24 or more of <c>[A-Za-z0-9_-.=+/]</c> with both letters and digits
    /// becomes <c>[redacted]</c>. At most <paramref name="max"/> characters, the last an ellipsis when cut.
    /// </summary>
    public static string Excerpt(string text, int max = 200)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        var output = new StringBuilder(Math.Min(text.Length, max) + 16);
        bool pendingSpace = false;
        int i = 0;
        // One pass that stops once the excerpt is full: a long body costs only what is shown. Runs are always
        // judged whole, so a cut never leaves the visible half of a credential.
        while (i < text.Length && output.Length <= max)
        {
            char c = text[i];
            if (IsRunChar(c))
            {
                int end = RunEnd(text, i);
                AppendSpace(output, ref pendingSpace);
                if (end - i == 6 && text.AsSpan(i, 6).Equals("Bearer", StringComparison.OrdinalIgnoreCase) && BearerToken(text, end) is int tokenEnd)
                {
                    output.Append(text, i, 6).Append(' ').Append(Redacted);
                    i = tokenEnd;
                    continue;
                }

                AppendRun(output, text.AsSpan(i, end - i), max + 1 - output.Length);
                i = end;
            }
            else if (char.IsWhiteSpace(c) || char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format)
            {
                // Invisible format characters (bidirectional overrides, zero-width spaces) separate like spaces:
                // dropping them would join the halves of a credential that they split.
                pendingSpace = output.Length > 0;
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                AppendSpace(output, ref pendingSpace);
                if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    output.Append(c).Append(text[i + 1]);
                    i += 2;
                }
                else
                {
                    output.Append('\uFFFD');
                    i++;
                }
            }
            else
            {
                AppendSpace(output, ref pendingSpace);
                output.Append(c);
                i++;
            }
        }

        if (output.Length <= max)
        {
            return output.ToString();
        }

        int keep = max - 1;
        if (keep > 0 && char.IsHighSurrogate(output[keep - 1]))
        {
            keep--;
        }

        return output.ToString(0, keep).TrimEnd() + Ellipsis;
    }

    private static JsonNode? Copy(JsonNode? node, int depth)
    {
        if (node is null)
        {
            return null;
        }

        if (depth >= MaxDepth)
        {
            return JsonValue.Create("[too deep]");
        }

        switch (node)
        {
            case JsonObject obj:
                var copy = new JsonObject();
                for (int i = 0; i < obj.Count; i++)
                {
                    KeyValuePair<string, JsonNode?> property = obj.GetAt(i);
                    copy[property.Key] = IsSecretKey(property.Key) ? JsonValue.Create(Redacted) : Copy(property.Value, depth + 1);
                }

                return copy;
            case JsonArray array:
                var items = new JsonArray();
                for (int i = 0; i < array.Count; i++)
                {
                    items.Add(Copy(array[i], depth + 1));
                }

                return items;
            case JsonValue value when value.TryGetValue(out string? text):
                // A string-backed copy, which the writer then serializes without reading the string out again.
                return JsonValue.Create(text.Length > MaxStringLength ? Cut(text) : text);
            default:
                return node.DeepClone();
        }
    }

    private static string Cut(string text)
    {
        int keep = MaxStringLength;
        if (char.IsHighSurrogate(text[keep - 1]))
        {
            keep--;
        }

        return string.Concat(text.AsSpan(0, keep), Ellipsis + "(", (text.Length - keep).ToString(CultureInfo.InvariantCulture), " more chars)");
    }

    /// <summary>"key" or "keys" as a word: split at anything but letters and digits, and where lower case turns upper.</summary>
    private static bool HasKeyWord(string key)
    {
        int start = 0;
        for (int i = 1; i <= key.Length; i++)
        {
            bool boundary = i == key.Length
                || !char.IsLetterOrDigit(key[i])
                || !char.IsLetterOrDigit(key[i - 1])
                || (char.IsLower(key[i - 1]) && char.IsUpper(key[i]));
            if (!boundary)
            {
                continue;
            }

            ReadOnlySpan<char> word = key.AsSpan(start, i - start);
            if (word.Equals("key", StringComparison.OrdinalIgnoreCase) || word.Equals("keys", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            start = i < key.Length && !char.IsLetterOrDigit(key[i]) ? i + 1 : i;
        }

        return false;
    }

    /// <summary>Judges the whole run, then appends no more than <paramref name="room"/> characters of it.</summary>
    private static void AppendRun(StringBuilder output, ReadOnlySpan<char> run, int room)
    {
        if (LooksLikeCredential(run))
        {
            output.Append(Redacted);
            return;
        }

        // token=abc123, api_key=short: the value of a secret-looking key goes however short it is.
        int equals = run.IndexOf('=');
        if (equals > 0 && equals < run.Length - 1 && IsSecretKey(run[..equals].ToString()))
        {
            output.Append(run[..(equals + 1)]).Append(Redacted);
            return;
        }

        output.Append(run[..Math.Min(run.Length, Math.Max(room, 0))]);
    }

    private static bool LooksLikeCredential(ReadOnlySpan<char> run)
    {
        if (run.Length < MinCredentialRun || IsPathLike(run))
        {
            return false;
        }

        bool letter = false;
        bool digit = false;
        foreach (char c in run)
        {
            letter |= char.IsAsciiLetter(c);
            digit |= char.IsAsciiDigit(c);
        }

        return letter && digit;
    }

    /// <summary>
    /// A file path or URL path (<c>/usr/lib/node_modules/x/dist/index.js</c>): slash-separated segments each shorter
    /// than a credential. Base64 also holds slashes, but its segments between them are long and random.
    /// </summary>
    private static bool IsPathLike(ReadOnlySpan<char> run)
    {
        if (run.IndexOf('/') < 0)
        {
            return false;
        }

        foreach (Range segment in run.Split('/'))
        {
            if (run[segment].Length >= MinCredentialRun)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Where the token after <c>Bearer</c> ends, or null when there is none (the word in prose).</summary>
    private static int? BearerToken(string text, int afterBearer)
    {
        int i = afterBearer;
        while (i < text.Length && (text[i] == ' ' || text[i] == '\t'))
        {
            i++;
        }

        if (i == afterBearer || i == text.Length || !IsRunChar(text[i]))
        {
            return null;
        }

        return RunEnd(text, i);
    }

    private static int RunEnd(string text, int start)
    {
        int end = start;
        while (end < text.Length && IsRunChar(text[end]))
        {
            end++;
        }

        return end;
    }

    private static bool IsRunChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '=' or '+' or '/';

    private static void AppendSpace(StringBuilder output, ref bool pendingSpace)
    {
        if (pendingSpace)
        {
            output.Append(' ');
            pendingSpace = false;
        }
    }
}
