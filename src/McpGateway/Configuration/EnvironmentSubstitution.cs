using System.Text;

namespace McpGateway.Configuration;

/// <summary>
/// Expands <c>${VAR}</c> and <c>${VAR:-default}</c> in configuration strings. <c>$${</c> writes a literal <c>${</c>.
/// A variable that is unset (or empty, for the <c>:-</c> form) and has no default is an error naming the variable.
/// </summary>
internal static class EnvironmentSubstitution
{
    /// <summary>Returns the expanded text, or null with <paramref name="error"/> set.</summary>
    public static string? Expand(string value, Func<string, string?> lookup, out string? error, out bool substituted)
    {
        error = null;
        substituted = false;
        int start = value.IndexOf('$', StringComparison.Ordinal);
        if (start < 0)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length + 16);
        sb.Append(value, 0, start);
        int i = start;
        while (i < value.Length)
        {
            char c = value[i];
            if (c != '$')
            {
                sb.Append(c);
                i++;
                continue;
            }

            if (i + 2 < value.Length && value[i + 1] == '$' && value[i + 2] == '{')
            {
                sb.Append("${");
                i += 3;
                continue;
            }

            if (i + 1 >= value.Length || value[i + 1] != '{')
            {
                sb.Append(c);
                i++;
                continue;
            }

            int close = value.IndexOf('}', i + 2);
            if (close < 0)
            {
                error = "'${' has no closing '}'";
                return null;
            }

            string expression = value.Substring(i + 2, close - i - 2);
            string name = expression;
            string? fallback = null;
            int separator = expression.IndexOf(":-", StringComparison.Ordinal);
            if (separator >= 0)
            {
                name = expression[..separator];
                fallback = expression[(separator + 2)..];
            }

            if (!IsValidName(name))
            {
                error = $"'${{{expression}}}' is not a valid variable reference (names are letters, digits and '_', not starting with a digit)";
                return null;
            }

            string? resolved = lookup(name);
            if (string.IsNullOrEmpty(resolved))
            {
                if (fallback is null)
                {
                    if (resolved is null)
                    {
                        error = $"environment variable '{name}' is not set";
                        return null;
                    }
                }
                else
                {
                    resolved = fallback;
                }
            }

            sb.Append(resolved);
            substituted = true;
            i = close + 1;
        }

        return sb.ToString();
    }

    private static bool IsValidName(string name)
    {
        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
            {
                return false;
            }
        }

        return true;
    }
}
