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
            if (!result.Succeeded)
            {
                error.WriteLine($"invalid: {errors} error(s), {warnings} warning(s).");
                return ExitCodes.InvalidConfiguration;
            }

            ConfigurationSnapshot snapshot = result.Value!;
            int enabled = snapshot.Servers.Servers.Count(s => s.Enabled);
            output.WriteLine($"valid: {snapshot.Servers.Servers.Count} server(s) ({enabled} enabled) in {snapshot.Servers.SourceFile}");
            output.WriteLine($"       {snapshot.Rules.Agents.Count} agent(s) in {snapshot.Rules.SourceFile} ({ShapeName(snapshot.Rules.Shape)} shape)");
            output.WriteLine($"       default agent: {snapshot.Policy.DefaultAgent ?? "none (callers without identity are refused)"}");
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
