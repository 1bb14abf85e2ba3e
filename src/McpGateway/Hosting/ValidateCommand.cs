using System.CommandLine;
using McpGateway.Configuration;

namespace McpGateway.Hosting;

/// <summary><c>mcp-gateway validate</c>: report every problem in both files; exit 0 only when they can be used.</summary>
internal static class ValidateCommand
{
    public static Command Create(DiscoveryEnvironment environment)
    {
        var options = new ConfigOptions();
        var command = new Command("validate", "Check the servers and rules files and report every problem with its file, JSON path and fix.");
        options.AddTo(command);
        command.SetAction(parse =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            TextWriter error = parse.InvocationConfiguration.Error;
            ConfigLoadResult<ConfigurationSnapshot> result = options.Load(parse, error, environment);
            int errors = result.Errors.Count();
            int warnings = result.Warnings.Count();
            int activeKeys = 0;
            if (result.Value?.Settings.Authentication.ApiKeys is { } apiKeys && File.Exists(apiKeys.File))
            {
                ConfigLoadResult<IReadOnlyList<Identity.ApiKeys.ApiKeyEntry>> keys = Identity.ApiKeys.ApiKeyFile.Load(apiKeys.File);
                foreach (ConfigDiagnostic diagnostic in keys.Diagnostics)
                {
                    error.WriteLine(diagnostic.ToString());
                }

                errors += keys.Errors.Count();
                warnings += keys.Warnings.Count();
                activeKeys = keys.Value?.Count(k => k.IsActive(DateTimeOffset.UtcNow)) ?? 0;
            }

            if (!result.Succeeded || errors > 0)
            {
                error.WriteLine($"invalid: {errors} error(s), {warnings} warning(s).");
                return ExitCodes.InvalidConfiguration;
            }

            ConfigurationSnapshot snapshot = result.Value!;
            int enabled = snapshot.Servers.Servers.Count(s => s.Enabled);
            output.WriteLine($"valid: {snapshot.Servers.Servers.Count} server(s) ({enabled} enabled) in {snapshot.Servers.SourceFile}");
            output.WriteLine($"       {snapshot.Rules.Agents.Count} agent(s) in {snapshot.Rules.SourceFile} ({ShapeName(snapshot.Rules.Shape)} shape)");
            output.WriteLine($"       default agent: {snapshot.Policy.DefaultAgent ?? "none (callers without identity are refused)"}");
            GatewaySettings settings = snapshot.Settings;
            output.WriteLine($"       settings: {settings.SourceFile ?? "no settings file (defaults)"}");
            AuthenticationSettings authentication = settings.Authentication;
            var methods = new List<string>();
            if (authentication.ApiKeys is { } keysFile)
            {
                methods.Add($"API keys ({activeKeys} active) from {keysFile.File}");
            }

            if (authentication.Jwt is { } jwt)
            {
                methods.Add($"JWT from {jwt.Authority?.OriginalString ?? jwt.Issuer} for audience {string.Join(", ", jwt.Audiences)}");
            }

            output.WriteLine($"       authentication: {(methods.Count == 0 ? "none (over HTTP an agent is who it says it is: loopback or a trusted network only)" : string.Join("; ", methods))}");
            output.WriteLine($"       audit: {settings.Audit.File ?? "off"}");
            output.WriteLine(settings.Redis.Configuration is { } redis
                ? $"       limits: shared through Redis at {string.Join(", ", Scale.RedisConnection.EndpointsOf(redis))} (keys under '{settings.Redis.KeyPrefix}')"
                : "       limits: counted by each replica (no Redis configured)");
            output.WriteLine(settings.Sessions.Keys.Count == 0
                ? "       session keys: none (each process makes its own: stateful sessions stay on the replica that started them)"
                : $"       session keys: {settings.Sessions.Keys.Count} (replicas with the same keys resume each other's sessions; ids expire after {(long)settings.Sessions.MaxAge.TotalSeconds} s)");
            if (warnings > 0)
            {
                output.WriteLine($"       {warnings} warning(s), printed above.");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    public static string ShapeName(RulesShape shape) => shape == RulesShape.AccessRules ? "access_rules" : "agents";
}
