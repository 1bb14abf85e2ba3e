using System.Net;
using Microsoft.AspNetCore.Http;

namespace McpGateway.Hosting;

/// <summary>
/// DNS-rebinding protection: a browser page on another site can make requests to 127.0.0.1 through a name it
/// controls. Requests whose Host is not a loopback name while the gateway listens on loopback, or whose Origin is not
/// a loopback origin, are refused with 403.
/// </summary>
internal sealed class OriginValidationMiddleware(RequestDelegate next, HttpServeSettings settings)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (settings.IsLoopback && !IsLoopbackHost(context.Request.Host.Host))
        {
            return Refuse(context, "the Host header is not a loopback name");
        }

        string origin = context.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && !settings.AllowedOrigins.Contains(origin) &&
            !(Uri.TryCreate(origin, UriKind.Absolute, out Uri? parsed) && IsLoopbackHost(parsed.Host)))
        {
            return Refuse(context, "the Origin is not allowed");
        }

        return next(context);
    }

    private static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ||
        (IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? address) && IPAddress.IsLoopback(address));

    private static Task Refuse(HttpContext context, string reason)
    {
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        context.Response.ContentType = "text/plain";
        return context.Response.WriteAsync($"Forbidden: {reason}.");
    }
}

/// <summary>Settings of the HTTP endpoint, from the command line.</summary>
internal sealed record HttpServeSettings(IPEndPoint Endpoint, bool Stateless, IReadOnlySet<string> AllowedOrigins)
{
    public bool IsLoopback => IPAddress.IsLoopback(Endpoint.Address);
}
