using McpGateway.Configuration;
using McpGateway.FastPath;
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
                // The gateway's own stdio transport: the SDK's, plus raw requests for the forwarding fast path.
                string serverName = config.Name;
                return new StdioProcessClientTransport(config, line => LogServerStderr(stderrLogger, serverName, line), loggerFactory);
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
