using System.Buffers;
using System.Net;
using System.Text.Json;
using McpGateway.Gateway;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using ModelContextProtocol;

namespace McpGateway.Hosting;

/// <summary>
/// The first thing every HTTP request meets, before authentication and before either path that answers MCP (the
/// fast path and the SDK): DNS-rebinding protection (a foreign Host while listening on loopback), browser origins (a
/// page's Origin must be the gateway's own or explicitly allowed: a page on another local port is not trusted),
/// and, for POSTs to <c>/mcp</c>, a JSON content type (a cross-site form or <c>text/plain</c> "simple request"
/// never reaches a tool), the body read once within the size limit, and duplicate keys refused.
/// </summary>
internal sealed class HttpGuardMiddleware(RequestDelegate next, HttpServeSettings settings, GatewayAudit audit)
{
    public async Task InvokeAsync(HttpContext context)
    {
        HttpRequest request = context.Request;
        if (settings.IsLoopback && !IsLoopbackHost(request.Host.Host))
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden, "the Host header is not a loopback name");
            return;
        }

        string origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && !IsAllowedOrigin(origin, request))
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden, "the Origin is not allowed");
            return;
        }

        if (!HttpMethods.IsPost(request.Method) || !request.Path.Equals(HttpGateway.Path, StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        if (!IsJson(request.ContentType))
        {
            await RefuseAsync(context, StatusCodes.Status415UnsupportedMediaType, "a POST to /mcp must have Content-Type: application/json");
            return;
        }

        RequestBody? body;
        try
        {
            body = await RequestBody.ReadAsync(context, settings.MaxRequestBodyBytes);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // A chunked body (no Content-Length) past Kestrel's limit, which is the same: the same refusal, not a failure.
            body = null;
        }

        if (body is null)
        {
            // The rest of the body is never read: the connection cannot carry another request, so the client must not reuse it.
            context.Response.Headers.Connection = "close";
            await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, $"the request body is larger than {settings.MaxRequestBodyBytes} bytes");
            return;
        }

        if (RequestValidation.FindProblem(body.Memory) is { } problem)
        {
            await RefuseAsJsonRpcAsync(context, body, problem, McpErrorCode.InvalidRequest);
            return;
        }

        if (RequestValidation.InitializeProblem(body.Memory) is { } badInitialize)
        {
            await RefuseAsJsonRpcAsync(context, body, badInitialize, McpErrorCode.InvalidParams);
            return;
        }

        try
        {
            await next(context);
        }
        catch (JsonException) when (!context.Response.HasStarted)
        {
            // Should the SDK throw reading a request itself (as it does for initialize params, checked above), the
            // agent gets a JSON-RPC error rather than a 500.
            await RefuseAsJsonRpcAsync(context, body, "The request's params do not have the shape this method needs (see the MCP schema).", McpErrorCode.InvalidParams);
        }
    }

    /// <summary>A body the gateway will not pass on: a JSON-RPC error (with the request's id where it has one), audited.</summary>
    private async Task RefuseAsJsonRpcAsync(HttpContext context, RequestBody body, string problem, McpErrorCode code)
    {
        await audit.HttpRefused(null, "none", null, Identity.HttpIdentity.ClientAddress(context), problem, StatusCodes.Status400BadRequest);
        byte[] error = RequestValidation.ErrorResponse(body.Memory.Span, problem, code);
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(error, context.RequestAborted);
    }

    /// <summary>The gateway's own origin (same scheme, host and port as the request) or one the operator allowed.</summary>
    private bool IsAllowedOrigin(string origin, HttpRequest request) =>
        settings.AllowedOrigins.Contains(origin) ||
        string.Equals(origin, request.Scheme + "://" + request.Host.Value, StringComparison.OrdinalIgnoreCase);

    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out MediaTypeHeaderValue? parsed) &&
        parsed.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase);

    private static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ||
        (IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? address) && IPAddress.IsLoopback(address));

    /// <summary>Refused before anyone is identified: audited with the client's address (a cross-site attempt leaves a trace).</summary>
    private async Task RefuseAsync(HttpContext context, int status, string reason)
    {
        await audit.HttpRefused(null, "none", null, Identity.HttpIdentity.ClientAddress(context), reason, status);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync($"{ReasonPhrases(status)}: {reason}.");
    }

    private static string ReasonPhrases(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
}

/// <summary>
/// The body of a POST to <c>/mcp</c>, read once (pooled) so the guard, session admission and the fast path look at
/// the same bytes; the SDK then reads them from a stream over the same buffer.
/// </summary>
internal sealed class RequestBody : IDisposable
{
    private byte[]? _buffer;

    private RequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public static RequestBody? Of(HttpContext context) => context.Features.Get<RequestBody>();

    /// <summary>Reads the whole body, or returns null when it is longer than <paramref name="limit"/>.</summary>
    public static async Task<RequestBody?> ReadAsync(HttpContext context, long limit)
    {
        HttpRequest request = context.Request;
        if (request.ContentLength > limit)
        {
            return null;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(request.ContentLength ?? 16 * 1024, limit) + 1);
        int read = 0;
        try
        {
            while (true)
            {
                if (read == buffer.Length)
                {
                    if (read > limit)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        return null;
                    }

                    byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, limit + 1));
                    buffer.AsSpan(0, read).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int chunk = await request.Body.ReadAsync(buffer.AsMemory(read), context.RequestAborted);
                if (chunk == 0)
                {
                    break;
                }

                read += chunk;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        if (read > limit)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return null;
        }

        var body = new RequestBody(buffer, read);
        context.Features.Set(body);
        context.Response.RegisterForDispose(body);
        request.Body = new MemoryStream(buffer, 0, read, writable: false);
        return body;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>Settings of the HTTP endpoint, from the settings file and the command line.</summary>
internal sealed record HttpServeSettings(IPEndPoint Endpoint, bool Stateless, IReadOnlySet<string> AllowedOrigins)
{
    public bool IsLoopback => IPAddress.IsLoopback(Endpoint.Address);

    public long MaxRequestBodyBytes { get; init; } = Configuration.HttpSettings.DefaultMaxRequestBodyBytes;
}
