using System.Globalization;
using System.Net;

namespace McpGateway.Configuration;

/// <summary>The <c>[ADDRESS:]PORT</c> form of <c>--http</c> and <c>http.listen</c>.</summary>
public static class ListenAddress
{
    public const string Fix = "write PORT or ADDRESS:PORT, for example 8080 or 127.0.0.1:8080 (port 0 picks a free one).";

    /// <summary>A bare port means 127.0.0.1; <c>localhost:PORT</c> means 127.0.0.1 too.</summary>
    public static bool TryParse(string value, out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int port))
        {
            endpoint = port is >= 0 and <= 65535 ? new IPEndPoint(IPAddress.Loopback, port) : null;
            return endpoint is not null;
        }

        string candidate = value.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase) ? "127.0.0.1" + value[9..] : value;
        return IPEndPoint.TryParse(candidate, out endpoint) && endpoint.Port != 0 | candidate.EndsWith(":0", StringComparison.Ordinal);
    }
}
