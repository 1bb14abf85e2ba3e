namespace McpGateway.Policy;

/// <summary>
/// Case-sensitive glob matching with <c>*</c> (any run of characters, including none) and <c>?</c> (exactly one).
/// Linear in practice, never allocates.
/// </summary>
public static class Glob
{
    public static bool IsMatch(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        if (pattern.Length == 1 && pattern[0] == '*')
        {
            return true;
        }

        int p = 0, t = 0;
        int starPattern = -1, starText = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]) && pattern[p] != '*')
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                // Remember where the star was so a later mismatch can let it swallow one more character.
                starPattern = p++;
                starText = t;
            }
            else if (starPattern >= 0)
            {
                p = starPattern + 1;
                t = ++starText;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
