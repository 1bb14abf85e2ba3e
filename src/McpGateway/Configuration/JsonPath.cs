using System.Globalization;

namespace McpGateway.Configuration;

/// <summary>Builds JSON paths in the <c>$.a.b[0]["odd key"]</c> notation used by every diagnostic.</summary>
internal static class JsonPath
{
    public const string Root = "$";

    public static string Property(string parent, string name) =>
        IsPlainIdentifier(name)
            ? string.Concat(parent, ".", name)
            : string.Concat(parent, "[\"", name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal), "\"]");

    public static string Index(string parent, int index) =>
        string.Concat(parent, "[", index.ToString(CultureInfo.InvariantCulture), "]");

    private static bool IsPlainIdentifier(string name)
    {
        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_' && c != '-')
            {
                return false;
            }
        }

        return true;
    }
}
