using System.CommandLine;
using McpGateway.Configuration;

namespace McpGateway.Hosting;

/// <summary><c>mcp-gateway init</c>: write commented example files where discovery finds them; never overwrite without --force.</summary>
internal static class InitCommand
{
    public static Command Create(DiscoveryEnvironment environment)
    {
        var directory = new Option<string?>("--dir", "-d") { Description = "Folder to write into (default: the current folder).", HelpName = "DIR" };
        var force = new Option<bool>("--force", "-f") { Description = "Overwrite files that already exist." };
        var command = new Command("init", $"Write example {ExampleFiles.ServersFileName}, {ExampleFiles.RulesFileName} and {ExampleFiles.SettingsFileName} files, with comments, to start from.");
        command.Options.Add(directory);
        command.Options.Add(force);
        command.SetAction(parse =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            TextWriter error = parse.InvocationConfiguration.Error;
            string target = Path.GetFullPath(parse.GetValue(directory) ?? ".", environment.CurrentDirectory);
            bool overwrite = parse.GetValue(force);
            (string Path, string Text)[] files =
            [
                (Path.Combine(target, ExampleFiles.ServersFileName), ExampleFiles.Servers),
                (Path.Combine(target, ExampleFiles.RulesFileName), ExampleFiles.Rules),
                (Path.Combine(target, ExampleFiles.SettingsFileName), ExampleFiles.Settings),
            ];

            // Check both before writing either, so a refusal leaves nothing half-done.
            string[] existing = [.. files.Where(f => File.Exists(f.Path)).Select(f => f.Path)];
            if (existing.Length > 0 && !overwrite)
            {
                foreach (string path in existing)
                {
                    error.WriteLine($"{path}: error: the file exists; nothing was written. Fix: pass --force to overwrite it, or choose another folder with --dir.");
                }

                return ExitCodes.InvalidConfiguration;
            }

            try
            {
                Directory.CreateDirectory(target);
                foreach ((string path, string text) in files)
                {
                    File.WriteAllText(path, text + Environment.NewLine);
                    output.WriteLine($"wrote {path}");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"{target}: error: cannot write: {ex.Message}");
                return ExitCodes.InvalidConfiguration;
            }

            output.WriteLine("next: mcp-gateway validate, then mcp-gateway check --agent assistant");
            return ExitCodes.Success;
        });
        return command;
    }
}
