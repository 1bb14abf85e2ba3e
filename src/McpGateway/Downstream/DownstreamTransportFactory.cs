using McpGateway.Configuration;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;

namespace McpGateway.Downstream;

/// <summary>Makes the SDK client transport for a configured server: stdio child, Streamable HTTP, or legacy SSE.</summary>
internal static partial class DownstreamTransportFactory
{
    public static IClientTransport Create(ServerConfig config, ILoggerFactory loggerFactory, ILogger stderrLogger)
    {
        switch (config.Transport)
        {
            case ServerTransport.Stdio:
                string serverName = config.Name;
                return new StdioClientTransport(
                    new StdioClientTransportOptions
                    {
                        Command = config.Command!,
                        Arguments = [.. config.Args],
                        Name = config.Name,
                        WorkingDirectory = config.WorkingDirectory,
                        EnvironmentVariables = config.Env.ToDictionary(kv => kv.Key, kv => (string?)kv.Value),
                        ShutdownTimeout = TimeSpan.FromSeconds(2),

                        // The child's stderr is its log: pass it on, tagged with the server name.
                        StandardErrorLines = line => LogServerStderr(stderrLogger, serverName, line),
                    },
                    loggerFactory);
            default:
                return new HttpClientTransport(
                    new HttpClientTransportOptions
                    {
                        Endpoint = config.Url!,
                        Name = config.Name,
                        TransportMode = config.Transport == ServerTransport.Sse ? HttpTransportMode.Sse : HttpTransportMode.StreamableHttp,
                        AdditionalHeaders = config.Headers.Count == 0 ? null : new Dictionary<string, string>(config.Headers),
                        ConnectionTimeout = config.StartTimeout ?? TimeSpan.FromSeconds(30),
                    },
                    loggerFactory);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "[{Server}] {Line}")]
    private static partial void LogServerStderr(ILogger logger, string server, string line);
}
