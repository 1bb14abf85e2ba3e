using System.Diagnostics;
using System.Threading.Channels;
using McpGateway.Gateway;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace McpGateway.Hosting;

/// <summary>
/// A request naming a stateful session that ends (DELETE, idle expiry) while the SDK is taking the request in fails
/// inside the SDK (2.4.0) with <see cref="ObjectDisposedException"/> ('StreamableHttpSession', from a GET or POST that
/// found the session just before it was disposed; or the session transport's disposed <see cref="CancellationTokenSource"/>,
/// from a POST the transport was taking in as it closed), <see cref="ChannelClosedException"/> (a POST whose message reached
/// the closing transport) or a cancellation (the session's own; also of the initialize POST that created the session,
/// still finishing its response), which would reach Kestrel as an unhandled exception and an HTTP 500. The session is gone, so the request gets what any request naming a terminated session gets: 404,
/// "Session not found". A request whose client went away (it aborted, as clients do to drop an event stream) ends
/// with that cancellation: there is nobody left to answer, and nothing went wrong.
/// </summary>
internal sealed partial class EndedSessionGuard(RequestDelegate next, ILogger<EndedSessionGuard> logger)
{
    private const string SessionHeader = "Mcp-Session-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client is gone.
        }
        catch (Exception ex) when (IsSessionEnding(ex) && (context.Request.Headers.ContainsKey(SessionHeader) || context.Response.Headers.ContainsKey(SessionHeader)))
        {
            LogSessionEnded(logger, context.Request.Method);
            if (context.Response.HasStarted)
            {
                // Part of a response (a GET's event stream) went out: it ends here, as it does when a session closes.
                return;
            }

            ReadOnlySpan<byte> body = RequestBody.Of(context) is { } request ? request.Memory.Span : default;
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            context.Response.ContentType = "application/json";

            // -32001 is what the SDK (and the TypeScript SDK) answer for a session they do not know.
            await context.Response.Body.WriteAsync(RequestValidation.ErrorResponse(body, -32001, "Session not found"), context.RequestAborted);
        }
    }

    private static bool IsSessionEnding(Exception ex) =>
        ex is ObjectDisposedException { ObjectName: "StreamableHttpSession" } or ChannelClosedException or OperationCanceledException ||
        (ex is ObjectDisposedException disposed && FromDisposedTokenSource(disposed));

    /// <summary>Thrown by a disposed <see cref="CancellationTokenSource"/> (through the runtime's throw helper): the session transport's.</summary>
    private static bool FromDisposedTokenSource(ObjectDisposedException ex) =>
        new StackTrace(ex).GetFrames()
            .Select(frame => frame.GetMethod()?.DeclaringType)
            .FirstOrDefault(type => type?.FullName != "System.ThrowHelper") == typeof(CancellationTokenSource);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A {Method} request named a session that ended while it was being taken in; answered 404.")]
    private static partial void LogSessionEnded(ILogger logger, string method);
}
