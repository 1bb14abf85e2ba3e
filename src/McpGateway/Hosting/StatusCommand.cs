using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Configuration;

namespace McpGateway.Hosting;

/// <summary>
/// <c>mcp-gateway status</c> (a running gateway's <c>/status</c> as a table) and <c>mcp-gateway reload</c> (reload a
/// running gateway's files now: through <c>POST /admin/reload</c>, or SIGHUP to a process id). Both find the gateway
/// from <c>--url</c>, else from <c>http.listen</c> in the settings; with authentication on they need an admin key.
/// </summary>
internal static class StatusCommand
{
    public const string KeyVariable = "MCP_GATEWAY_KEY";

    public static Command CreateStatus(DiscoveryEnvironment environment)
    {
        var options = new ConfigOptions();
        var url = new Option<string?>("--url") { Description = "The gateway, e.g. http://127.0.0.1:8080 (default: http.listen from the settings).", HelpName = "URL" };
        var key = new Option<string?>("--key") { Description = $"An admin API key or token (default: ${KeyVariable}).", HelpName = "KEY" };
        var json = new Option<bool>("--json") { Description = "Print the /status JSON as it is." };
        var command = new Command("status", "Show a running gateway's servers: state, tools, restarts and last error.");
        options.AddTo(command);
        command.Options.Add(url);
        command.Options.Add(key);
        command.Options.Add(json);
        command.SetAction(async (parse, cancellationToken) =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            TextWriter error = parse.InvocationConfiguration.Error;
            if (Target(parse, url, options, environment, error) is not { } target)
            {
                return ExitCodes.Usage;
            }

            using HttpResponseMessage? response = await SendAsync(HttpMethod.Get, target, "/status", parse.GetValue(key) ?? environment.GetVariable(KeyVariable), error, cancellationToken);
            if (response is null)
            {
                return ExitCodes.Unreachable;
            }

            string body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                error.WriteLine($"error: {target}/status answered {(int)response.StatusCode} {response.ReasonPhrase}{(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden ? $": pass an admin key with --key or ${KeyVariable}" : string.Empty)}.");
                return ExitCodes.Unreachable;
            }

            if (parse.GetValue(json))
            {
                output.WriteLine(body);
                return ExitCodes.Success;
            }

            WriteTable(output, JsonNode.Parse(body)!.AsObject());
            return ExitCodes.Success;
        });
        return command;
    }

    public static Command CreateReload(DiscoveryEnvironment environment)
    {
        var options = new ConfigOptions();
        var url = new Option<string?>("--url") { Description = "The gateway, e.g. http://127.0.0.1:8080 (default: http.listen from the settings).", HelpName = "URL" };
        var key = new Option<string?>("--key") { Description = $"An admin API key or token (default: ${KeyVariable}).", HelpName = "KEY" };
        var pid = new Option<int?>("--pid") { Description = "Send SIGHUP to this gateway process instead (stdio gateways, or without HTTP access).", HelpName = "PID" };
        var command = new Command("reload", "Reload a running gateway's servers, rules and settings now (it also reloads on file changes and on SIGHUP).");
        options.AddTo(command);
        command.Options.Add(url);
        command.Options.Add(key);
        command.Options.Add(pid);
        command.SetAction(async (parse, cancellationToken) =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            TextWriter error = parse.InvocationConfiguration.Error;
            if (parse.GetValue(pid) is int processId)
            {
                using var kill = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("kill", ["-HUP", processId.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false });
                await kill!.WaitForExitAsync(cancellationToken);
                if (kill.ExitCode != 0)
                {
                    error.WriteLine($"error: could not signal process {processId}.");
                    return ExitCodes.Unreachable;
                }

                output.WriteLine($"sent SIGHUP to {processId}; the gateway logs the outcome.");
                return ExitCodes.Success;
            }

            if (Target(parse, url, options, environment, error) is not { } target)
            {
                return ExitCodes.Usage;
            }

            using HttpResponseMessage? response = await SendAsync(HttpMethod.Post, target, "/admin/reload", parse.GetValue(key) ?? environment.GetVariable(KeyVariable), error, cancellationToken);
            if (response is null)
            {
                return ExitCodes.Unreachable;
            }

            string body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                error.WriteLine($"error: {target} refused the reload ({(int)response.StatusCode}): pass an admin key with --key or ${KeyVariable}.");
                return ExitCodes.Unreachable;
            }

            JsonObject outcome = JsonNode.Parse(body)!.AsObject();
            foreach (JsonNode? line in outcome["errors"]!.AsArray())
            {
                error.WriteLine(line!.GetValue<string>());
            }

            foreach (JsonNode? line in outcome["notes"]!.AsArray())
            {
                error.WriteLine("note: " + line!.GetValue<string>());
            }

            bool succeeded = outcome["succeeded"]!.GetValue<bool>();
            output.WriteLine(succeeded ? "reloaded." : "not reloaded: the configuration has errors (above); the one in force is unchanged.");
            return succeeded ? ExitCodes.Success : ExitCodes.InvalidConfiguration;
        });
        return command;
    }

    private static string? Target(ParseResult parse, Option<string?> url, ConfigOptions options, DiscoveryEnvironment environment, TextWriter error)
    {
        if (parse.GetValue(url) is { } given)
        {
            return given.TrimEnd('/');
        }

        ConfigLoadResult<ConfigurationSnapshot> loaded = options.Load(parse, error, environment, warnings: false);
        if (loaded.Value?.Settings.Http.Listen is { } listen && ListenAddress.TryParse(listen, out IPEndPoint? endpoint) && endpoint!.Port != 0)
        {
            IPAddress address = endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any) ? IPAddress.Loopback : endpoint.Address;
            return $"http://{new IPEndPoint(address, endpoint.Port)}";
        }

        error.WriteLine("error: no gateway to ask: pass --url http://HOST:PORT (or set http.listen in the settings).");
        return null;
    }

    private static async Task<HttpResponseMessage?> SendAsync(HttpMethod method, string target, string path, string? key, TextWriter error, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var request = new HttpRequestMessage(method, target + path);
        if (key is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }

        try
        {
            return await http.SendAsync(request, cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            error.WriteLine($"error: cannot reach {target}: {ex.Message}");
            return null;
        }
    }

    private static void WriteTable(TextWriter output, JsonObject status)
    {
        output.WriteLine($"mcp-gateway {status["version"]}  {(status["ready"]!.GetValue<bool>() ? "ready" : "NOT READY")}  sessions {status["sessions"]}  up {status["uptimeSeconds"]} s");
        if (status["configuration"]?["lastReload"] is JsonObject reload)
        {
            output.WriteLine($"last reload {reload["at"]}: {(reload["succeeded"]!.GetValue<bool>() ? "applied" : "refused")}");
        }

        if (status["redis"] is JsonObject redis)
        {
            output.WriteLine($"redis {redis["state"]} since {redis["since"]}: limits {redis["limits"]}{(redis["lastFailure"] is { } failure ? $" (last failure: {failure})" : string.Empty)}");
        }

        var rows = new List<string[]> { new[] { "SERVER", "STATE", "TRANSPORT", "TOOLS", "RESTARTS", "LAST ERROR" } };
        foreach (JsonNode? server in status["servers"]!.AsArray())
        {
            rows.Add(
            [
                server!["name"]!.GetValue<string>(),
                server["state"]!.GetValue<string>(),
                server["transport"]!.GetValue<string>(),
                server["tools"]?.ToString() ?? "",
                server["restarts"]?.ToString() ?? "",
                server["lastError"]?.GetValue<string>() ?? "",
            ]);
        }

        int[] widths = [.. Enumerable.Range(0, rows[0].Length - 1).Select(c => rows.Max(r => r[c].Length))];
        foreach (string[] row in rows)
        {
            output.WriteLine(string.Join("  ", row.Take(row.Length - 1).Select((cell, c) => cell.PadRight(widths[c]))) + "  " + row[^1]);
        }
    }
}
