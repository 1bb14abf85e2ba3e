using System.Reflection;

namespace McpGateway;

/// <summary>The gateway's version as built (informational version, without the source-revision suffix).</summary>
internal static class GatewayVersion
{
    public static string Value { get; } = Read();

    private static string Read()
    {
        string? version = typeof(GatewayVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(version))
        {
            return "0.0.0";
        }

        int plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }
}
