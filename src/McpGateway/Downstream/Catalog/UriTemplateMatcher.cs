using System.Text;
using System.Text.RegularExpressions;

namespace McpGateway.Downstream;

/// <summary>
/// Matches URIs against RFC 6570 URI templates, enough to route a read to the server whose template produced the URI:
/// <c>{var}</c> matches one path segment, <c>{+var}</c> and <c>{#var}</c> match anything, and the query forms
/// (<c>{?a,b}</c>, <c>{&amp;a}</c>) match an optional query.
/// </summary>
internal sealed class UriTemplateMatcher
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMilliseconds(50);
    private readonly Regex _regex;

    public UriTemplateMatcher(string template)
    {
        var pattern = new StringBuilder("^");
        int i = 0;
        while (i < template.Length)
        {
            int open = template.IndexOf('{', i);
            if (open < 0)
            {
                pattern.Append(Regex.Escape(template[i..]));
                break;
            }

            pattern.Append(Regex.Escape(template[i..open]));
            int close = template.IndexOf('}', open);
            if (close < 0)
            {
                pattern.Append(Regex.Escape(template[open..]));
                break;
            }

            string expression = template[(open + 1)..close];
            pattern.Append(expression.Length > 0 ? expression[0] switch
            {
                '+' or '#' => ".*",
                '?' or '&' => "([?&][^#]*)?",
                '/' => "(/[^?#]*)?",
                '.' => @"(\.[^/?#]*)?",
                ';' => "(;[^/?#]*)?",
                _ => "[^/?#]*",
            } : string.Empty);
            i = close + 1;
        }

        pattern.Append('$');
        _regex = new Regex(pattern.ToString(), RegexOptions.CultureInvariant, s_timeout);
    }

    public bool IsMatch(string uri)
    {
        try
        {
            return _regex.IsMatch(uri);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }
}
