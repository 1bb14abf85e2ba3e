using McpGateway.Configuration;
using McpGateway.Diagnostics;

namespace McpGateway.Downstream;

/// <summary>
/// What a server's entry holds that the gateway never shows, in <c>/status</c> or in its log: command, arguments,
/// working directory, environment values, URL and header values (and a header's credential without its scheme, as in
/// <c>Bearer x</c>). Text from or about the server (a stderr line, the reason it failed) can quote one (a command that
/// was not found, a server that prints its settings), so it is masked on the way out, longest first; values under 4
/// characters are too common in ordinary text to mask and too short to be secrets. What is left then goes through
/// <see cref="AuditRedaction.Excerpt"/>: one bounded line, anything credential-like masked too.
/// </summary>
internal sealed class ServerRedaction
{
    /// <summary>The longest a stderr line or a reason is shown.</summary>
    public const int MaxLineLength = 300;

    private readonly string[] _secrets;

    public ServerRedaction(ServerConfig server)
    {
        _secrets =
        [
            .. new[] { server.Command, server.WorkingDirectory, server.Url?.OriginalString, server.Url?.AbsoluteUri, server.Url?.Authority }
                .Concat(server.Args)
                .Concat(server.Env.Values)
                .Concat(server.Headers.Values.SelectMany(v => new[] { v, v[(v.IndexOf(' ', StringComparison.Ordinal) + 1)..] }))
                .OfType<string>()
                .Where(v => v.Length >= 4)
                .Distinct(StringComparer.Ordinal)
                .OrderByDescending(v => v.Length),
        ];
    }

    /// <summary>
    /// A line from or about the server (a stderr line, the reason a connection failed) as it may be shown anywhere:
    /// the server's secrets masked, then one bounded excerpt of at most <see cref="MaxLineLength"/> characters.
    /// </summary>
    public string Line(string text)
    {
        foreach (string secret in _secrets)
        {
            text = text.Replace(secret, AuditRedaction.Redacted, StringComparison.Ordinal);
        }

        return AuditRedaction.Excerpt(text, MaxLineLength);
    }
}
