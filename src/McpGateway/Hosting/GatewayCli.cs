using System.CommandLine;
using McpGateway.Configuration;

namespace McpGateway.Hosting;

/// <summary>Builds the command line: <c>serve</c>, <c>validate</c>, <c>check</c>, <c>init</c>, with <c>--help</c> and <c>--version</c>.</summary>
public static class GatewayCli
{
    public static RootCommand Create(DiscoveryEnvironment? environment = null)
    {
        environment ??= DiscoveryEnvironment.System;
        var root = new RootCommand("mcp-gateway: one MCP endpoint in front of many MCP servers, with per-agent access rules.");
        root.Subcommands.Add(ServeCommand.Create(environment));
        root.Subcommands.Add(ValidateCommand.Create(environment));
        root.Subcommands.Add(CheckCommand.Create(environment));
        root.Subcommands.Add(InitCommand.Create(environment));
        root.Subcommands.Add(KeysCommand.Create(environment));
        root.Subcommands.Add(StatusCommand.CreateStatus(environment));
        root.Subcommands.Add(StatusCommand.CreateReload(environment));
        return root;
    }

    /// <summary>
    /// The parse errors in words for a person: an unknown command or option gets the closest real one ("did you mean"),
    /// a missing command lists the commands, and a value that follows an unknown option is not reported twice.
    /// </summary>
    internal static IEnumerable<string> UsageErrors(ParseResult parse)
    {
        Command command = parse.CommandResult.Command;
        string[] unmatched = [.. parse.UnmatchedTokens];
        var reported = new HashSet<string>(StringComparer.Ordinal);
        bool afterUnknownOption = false;
        foreach (string token in unmatched)
        {
            if (token.StartsWith('-'))
            {
                afterUnknownOption = true;
                IEnumerable<string> names = command.Options.SelectMany(o => o.Aliases.Append(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal));
                string? closest = JsonNodeReader.Closest(token, names);
                reported.Add(token);
                yield return $"unknown option '{token}' for '{command.Name}'." + (closest is null ? string.Empty : $" Did you mean '{closest}'?");
            }
            else if (afterUnknownOption)
            {
                // The value of the option just reported.
                afterUnknownOption = false;
                reported.Add(token);
            }
            else if (command.Subcommands.Count > 0)
            {
                string? closest = JsonNodeReader.Closest(token, command.Subcommands.Select(c => c.Name));
                reported.Add(token);
                yield return $"unknown command '{token}'." + (closest is null ? $" Commands: {string.Join(", ", command.Subcommands.Select(c => c.Name))}." : $" Did you mean '{closest}'?");
            }
        }

        foreach (System.CommandLine.Parsing.ParseError error in parse.Errors)
        {
            if (unmatched.Any(t => error.Message.Contains($"'{t}'", StringComparison.Ordinal)) && unmatched.All(reported.Contains))
            {
                continue;
            }

            if (error.Message.StartsWith("Required command was not provided", StringComparison.Ordinal))
            {
                if (unmatched.Length == 0)
                {
                    yield return $"no command given. Commands: {string.Join(", ", command.Subcommands.Select(c => c.Name))}.";
                }

                continue;
            }

            yield return error.Message;
        }
    }

    /// <summary>Parses and runs; usage errors exit 2, unexpected failures print one line (no stack trace) and exit 4.</summary>
    public static async Task<int> RunAsync(string[] args, DiscoveryEnvironment? environment = null, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        RootCommand root = Create(environment);
        ParseResult parse = root.Parse(args);
        // serve handles SIGINT/SIGTERM itself so that child processes are stopped before the process exits.
        var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        if (output is not null)
        {
            invocation.Output = output;
        }

        if (error is not null)
        {
            invocation.Error = error;
        }

        if (parse.Errors.Count > 0)
        {
            foreach (string message in UsageErrors(parse))
            {
                invocation.Error.WriteLine($"error: {message}");
            }

            invocation.Error.WriteLine("run 'mcp-gateway --help' (or 'mcp-gateway COMMAND --help') for usage.");
            return ExitCodes.Usage;
        }

        try
        {
            return await parse.InvokeAsync(invocation, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Success;
        }
        catch (Exception ex)
        {
            invocation.Error.WriteLine($"mcp-gateway: internal error: {ex.GetType().Name}: {ex.Message}");
            invocation.Error.WriteLine("this is a bug; please report it with the command you ran. Set MCP_GATEWAY_DEBUG=1 to print the stack trace.");
            if (Environment.GetEnvironmentVariable("MCP_GATEWAY_DEBUG") == "1")
            {
                invocation.Error.WriteLine(ex.ToString());
            }

            return ExitCodes.InternalError;
        }
    }
}
