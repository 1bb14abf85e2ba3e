using McpGateway.Configuration;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;

namespace McpGateway.Downstream;

/// <summary>Makes the SDK client transport for one connection attempt to a configured server; replaceable (tests run servers in memory).</summary>
internal interface IDownstreamTransportFactory
{
    IClientTransport Create(ServerConfig config, DownstreamOptions options, ILoggerFactory loggerFactory);
}

/// <summary>The real transports: a stdio child (the gateway's own transport, with raw requests for the fast path), Streamable HTTP, or legacy SSE.</summary>
internal sealed partial class DownstreamTransportFactory : IDownstreamTransportFactory
{
    public static DownstreamTransportFactory Instance { get; } = new();

    public IClientTransport Create(ServerConfig config, DownstreamOptions options, ILoggerFactory loggerFactory)
    {
        long maxMessageBytes = config.MaxMessageBytes ?? options.DefaultMaxMessageBytes;
        ILogger stderrLogger = loggerFactory.CreateLogger("McpGateway.Downstream." + config.Name);
        switch (config.Transport)
        {
            case ServerTransport.Stdio:
                string serverName = config.Name;
                // Verbatim, a line could quote the server's own settings (an environment value, an argument).
                var redaction = new ServerRedaction(config);
                return new StdioProcessClientTransport(config, maxMessageBytes, options.StopGrace, line =>
                {
                    // npx's first run of a package downloads it, silently for a minute: say what the wait is.
                    if (line.Contains("Need to install the following packages", StringComparison.Ordinal) ||
                        line.Contains("will be installed", StringComparison.Ordinal) && line.Contains("npm", StringComparison.OrdinalIgnoreCase))
                    {
                        LogInstalling(stderrLogger, serverName);
                    }

                    LogServerStderr(stderrLogger, serverName, redaction.Line(line));
                }, loggerFactory);
            default:
                // A reply over the limit fails its request instead of being read into memory (POST responses only:
                // the long-lived GET stream carries many messages).
                var http = new HttpClient(new BoundedResponseHandler(maxMessageBytes, config.Name) { InnerHandler = new SocketsHttpHandler() });
                return new HttpClientTransport(
                    new HttpClientTransportOptions
                    {
                        Endpoint = config.Url!,
                        Name = config.Name,
                        TransportMode = config.Transport == ServerTransport.Sse ? HttpTransportMode.Sse : HttpTransportMode.StreamableHttp,
                        AdditionalHeaders = config.Headers.Count == 0 ? null : new Dictionary<string, string>(config.Headers),
                        ConnectionTimeout = config.StartTimeout ?? TimeSpan.FromSeconds(30),
                    },
                    http,
                    loggerFactory,
                    ownsHttpClient: true);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server '{Server}': npx is installing its package (first run); this can take a minute.")]
    private static partial void LogInstalling(ILogger logger, string server);

    [LoggerMessage(Level = LogLevel.Information, Message = "[{Server}] {Line}")]
    private static partial void LogServerStderr(ILogger logger, string server, string line);

    /// <summary>Limits the body of each POST response to the server's message size.</summary>
    private sealed class BoundedResponseHandler(long limit, string server) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            HttpResponseMessage response = await base.SendAsync(request, cancellationToken);
            if (request.Method == HttpMethod.Post && response.Content is { } content)
            {
                if (content.Headers.ContentLength > limit)
                {
                    response.Dispose();
                    throw new OversizedReplyException(Message(content.Headers.ContentLength.Value));
                }

                var bounded = new StreamContent(new BoundedStream(await content.ReadAsStreamAsync(cancellationToken), limit, this));
                foreach (KeyValuePair<string, IEnumerable<string>> header in content.Headers)
                {
                    bounded.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }

                response.Content = bounded;
            }

            return response;
        }

        public string Message(long length) =>
            $"The reply of server '{server}' was more than its limit of {limit} bytes (maxMessageBytes){(length > 0 ? $": {length} bytes" : string.Empty)}; it was dropped.";
    }

    private sealed class BoundedStream(Stream inner, long limit, BoundedResponseHandler owner) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        private int Count(int read)
        {
            _read += read;
            return _read > limit ? throw new OversizedReplyException(owner.Message(0)) : read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
