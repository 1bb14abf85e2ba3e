using System.Buffers;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace McpGateway.FastPath;

/// <summary>
/// Answers simple <c>tools/call</c> POSTs to <c>/mcp</c> on the fast path, with a plain JSON response, before the
/// SDK's Streamable HTTP handler sees them; everything else (and any call the fast path declines) continues to the
/// SDK unchanged. Only 2025-11-25 requests of a live stateful session, or of a stateless gateway, qualify.
/// </summary>
internal sealed class FastPathMiddleware(
    RequestDelegate next,
    FastForwarder forwarder,
    SessionRegistry sessions,
    GatewayStateProvider stateProvider,
    GatewayOptions options,
    HttpServeSettings settings)
{
    private const int MaxFastBodyBytes = 256 * 1024;

    public async Task InvokeAsync(HttpContext context)
    {
        HttpRequest request = context.Request;
        if (!HttpMethods.IsPost(request.Method) || !request.Path.Equals(HttpGateway.Path, StringComparison.Ordinal) ||
            request.ContentLength is > MaxFastBodyBytes or 0 || !AcceptsJson(request.Headers.Accept) ||
            request.Headers["MCP-Protocol-Version"] is { Count: > 0 } version && version.ToString() != "2025-11-25")
        {
            await next(context);
            return;
        }

        GatewaySession? session = null;
        string sessionId = request.Headers["Mcp-Session-Id"].ToString();
        if (settings.Stateless != (sessionId.Length == 0) || (sessionId.Length > 0 && (session = sessions.Find(sessionId)) is null))
        {
            await next(context);
            return;
        }

        // Read at most one byte past the limit (clients may send no Content-Length): a longer body goes to the SDK.
        byte[] body = ArrayPool<byte>.Shared.Rent((int?)request.ContentLength ?? 16 * 1024);
        try
        {
            int read = 0;
            while (read <= MaxFastBodyBytes)
            {
                if (read == body.Length)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent(body.Length * 2);
                    body.AsSpan(0, read).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(body);
                    body = larger;
                }

                int chunk = await request.Body.ReadAsync(body.AsMemory(read, Math.Min(body.Length, MaxFastBodyBytes + 1) - read), context.RequestAborted);
                if (chunk == 0)
                {
                    break;
                }

                read += chunk;
            }

            FastForwarder.Prepared? call = read <= MaxFastBodyBytes ? Prepare(body.AsMemory(0, read), session, request.Headers[options.AgentHeader]) : null;
            if (call is null)
            {
                // Not for the fast path: the SDK reads the same body (what was read, then the rest).
                Stream rest = request.Body;
                request.Body = new ConcatenatedStream(new MemoryStream(body.AsSpan(0, read).ToArray(), writable: false), rest);
                await next(context);
                return;
            }

            byte[] response = await call.RunAsync(context.RequestAborted);
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = response.Length;
            await context.Response.Body.WriteAsync(response, context.RequestAborted);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    private FastForwarder.Prepared? Prepare(ReadOnlyMemory<byte> body, GatewaySession? session, StringValues headerValues)
    {
        if (FastToolCall.TryParse(body, forwarder.AgentArgument) is not { } call)
        {
            return null;
        }

        string? header = options.AllowAgentHeader && headerValues.Count > 0 ? headerValues.ToString() : null;
        string? bound = session?.BoundAgent;

        // A header that would bind the session, or that contradicts it, is the full path's business.
        if (header is not null && session is not null && header != bound)
        {
            return null;
        }

        string? agent = bound ?? header ?? stateProvider.Current.Policy.DefaultAgent;
        IUpstream upstream = session?.Server is { } server ? new SessionUpstream(server, session) : NoUpstream.Instance;
        return forwarder.TryPrepare(call, agent, upstream);
    }

    private static bool AcceptsJson(StringValues accept)
    {
        foreach (string? value in accept)
        {
            if (value is not null && (value.Contains("application/json", StringComparison.OrdinalIgnoreCase) || value.Contains("*/*", StringComparison.Ordinal)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Reads one stream, then another: the bytes already read, then whatever the client still sends.</summary>
    private sealed class ConcatenatedStream(Stream first, Stream second) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read = await first.ReadAsync(buffer, cancellationToken);
            return read > 0 ? read : await second.ReadAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            int read = first.Read(buffer, offset, count);
            return read > 0 ? read : second.Read(buffer, offset, count);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
