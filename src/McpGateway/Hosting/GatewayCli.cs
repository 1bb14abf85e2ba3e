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
            foreach (System.CommandLine.Parsing.ParseError parseError in parse.Errors)
            {
                invocation.Error.WriteLine($"error: {parseError.Message}");
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
