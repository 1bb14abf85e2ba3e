namespace McpGateway.Configuration;

/// <summary>How the gateway reaches a downstream server.</summary>
public enum ServerTransport
{
    /// <summary>A child process speaking MCP on stdin/stdout.</summary>
    Stdio,

    /// <summary>A remote server speaking Streamable HTTP.</summary>
    Http,

    /// <summary>A remote server speaking the legacy HTTP+SSE transport.</summary>
    Sse,
}

/// <summary>One entry of the servers file, as the user wrote it (after <c>${VAR}</c> expansion).</summary>
public sealed record ServerConfig
{
    public required string Name { get; init; }

    public required ServerTransport Transport { get; init; }

    public string? Command { get; init; }

    public IReadOnlyList<string> Args { get; init; } = [];

    /// <summary>Environment for a stdio child. Values are secrets: never log or return them.</summary>
    public IReadOnlyDictionary<string, string> Env { get; init; } = EmptyMap;

    public string? WorkingDirectory { get; init; }

    public Uri? Url { get; init; }

    /// <summary>Headers sent to a remote server. Values are secrets: never log or return them.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = EmptyMap;

    public string? Description { get; init; }

    public bool Enabled { get; init; } = true;

    /// <summary>Exposed-name prefix; null means the server name, empty means no prefix.</summary>
    public string? Prefix { get; init; }

    public TimeSpan? StartTimeout { get; init; }

    public TimeSpan? CallTimeout { get; init; }

    /// <summary>The largest message the server may send; longer ones are refused (default 16 MiB).</summary>
    public long? MaxMessageBytes { get; init; }

    /// <summary>The gateway is ready (<c>/readyz</c>) only once this server is.</summary>
    public bool Required { get; init; }

    /// <summary>The JSON path of this entry, for messages that point back at the file.</summary>
    public string SourcePath { get; init; } = string.Empty;

    internal static IReadOnlyDictionary<string, string> EmptyMap { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The prefix that exposed tool names carry: <see cref="Prefix"/> when set, otherwise the server name.</summary>
    public string EffectivePrefix => Prefix ?? Name;

    /// <summary>
    /// True when <paramref name="other"/> runs the same server the same way: on reload an unchanged server keeps its
    /// process and sessions, a changed one restarts. (Record equality compares the collections by reference.)
    /// </summary>
    public bool SameAs(ServerConfig other) =>
        Name == other.Name && Transport == other.Transport && Command == other.Command && Args.SequenceEqual(other.Args) &&
        SameMap(Env, other.Env) && WorkingDirectory == other.WorkingDirectory && Url == other.Url && SameMap(Headers, other.Headers) &&
        Description == other.Description && Enabled == other.Enabled && Prefix == other.Prefix && StartTimeout == other.StartTimeout &&
        CallTimeout == other.CallTimeout && MaxMessageBytes == other.MaxMessageBytes && Required == other.Required;

    private static bool SameMap(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(entry => b.TryGetValue(entry.Key, out string? value) && value == entry.Value);

    /// <summary>"stdio", "http" or "sse", as users write it.</summary>
    public string TransportName => Transport switch
    {
        ServerTransport.Stdio => "stdio",
        ServerTransport.Http => "http",
        _ => "sse",
    };
}

/// <summary>The whole servers file: every server in file order.</summary>
public sealed record ServersConfig
{
    public string? SourceFile { get; init; }

    /// <summary>Where each JSON path is in the file, for diagnostics made after parsing.</summary>
    internal JsonPositionMap? Positions { get; init; }

    public IReadOnlyList<ServerConfig> Servers { get; init; } = [];

    public static ServersConfig Empty { get; } = new();

    public ServerConfig? Find(string name)
    {
        foreach (ServerConfig server in Servers)
        {
            if (string.Equals(server.Name, name, StringComparison.Ordinal))
            {
                return server;
            }
        }

        return null;
    }
}
