using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace McpGateway.Identity;

/// <summary>
/// ASP.NET Core Data Protection, which <c>AddAuthentication</c> brings along for the cookie and remote-login handlers,
/// kept to the process. The gateway's schemes (API keys, JwtBearer, the SDK's MCP challenge) protect nothing with it,
/// yet its defaults would, at every start with authentication, write a key ring into <c>~/.aspnet</c> (or warn that
/// it keeps one in memory where the home folder is not writable) and warn that the keys are stored unencrypted. Here
/// the keys live in memory and die with the process, and the warning about encrypting stored keys, which no key ever
/// is, is not logged.
/// </summary>
internal static class ProcessDataProtection
{
    /// <summary>The category of the "No XML encryptor configured" warning; its errors are still logged.</summary>
    public const string KeyManagerCategory = "Microsoft.AspNetCore.DataProtection.KeyManagement.XmlKeyManager";

    public static IServiceCollection AddProcessDataProtection(this IServiceCollection services)
    {
        services.AddDataProtection().AddKeyManagementOptions(options => options.XmlRepository = new InMemoryKeys());
        services.Configure<LoggerFilterOptions>(options => options.AddFilter(KeyManagerCategory, LogLevel.Error));
        return services;
    }

    /// <summary>A key repository in memory, silent about it (the framework's own logs a warning when it falls back to one).</summary>
    internal sealed class InMemoryKeys : IXmlRepository
    {
        private readonly List<XElement> _elements = [];

        public IReadOnlyCollection<XElement> GetAllElements()
        {
            lock (_elements)
            {
                return [.. _elements.Select(e => new XElement(e))];
            }
        }

        public void StoreElement(XElement element, string friendlyName)
        {
            lock (_elements)
            {
                _elements.Add(new XElement(element));
            }
        }
    }
}
