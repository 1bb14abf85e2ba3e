using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using McpGateway.Configuration;
using McpGateway.Identity.ApiKeys;

namespace McpGateway.Hosting;

/// <summary>
/// <c>mcp-gateway keys add|list|revoke</c>: API keys per agent (and <c>keys session-key</c>: a key for session ids). A key is printed once, when it is made, as the only
/// line on standard output; the keys file keeps its hash, with an id, the agent, a label, when it was made and when
/// it expires. A running gateway reads the file again whenever it changes, so a revoked key stops working at once.
/// </summary>
internal static class KeysCommand
{
    public static Command Create(DiscoveryEnvironment environment, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        var keys = new Command("keys", "Manage API keys: add (prints the new key once), list (never shows keys), revoke; and make a session key (session-key).");
        keys.Subcommands.Add(Add(environment, time));
        keys.Subcommands.Add(List(environment, time));
        keys.Subcommands.Add(Revoke(environment, time));
        keys.Subcommands.Add(SessionKeyCommand());
        return keys;
    }

    /// <summary>A new random key for <c>sessions.keys</c>, the only line on standard output: it is stored nowhere.</summary>
    private static Command SessionKeyCommand()
    {
        var command = new Command("session-key", "Print a new random session key for the settings' sessions.keys (base64, 32 bytes); it is not stored anywhere.");
        command.SetAction(parse =>
        {
            parse.InvocationConfiguration.Output.WriteLine(SessionKey.Generate());
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Add(DiscoveryEnvironment environment, TimeProvider time)
    {
        var options = new ConfigOptions();
        var agent = new Option<string>("--agent", "-a") { Description = "The agent the key authenticates as (an agent of the rules).", Required = true, HelpName = "NAME" };
        var label = new Option<string?>("--label") { Description = "What the key is for (shown by 'keys list').", HelpName = "TEXT" };
        var expires = new Option<string?>("--expires") { Description = "When the key stops working: a date (2027-01-31), a time (2027-01-31T12:00:00Z), or a span from now (90d, 12h).", HelpName = "DATE" };
        var command = new Command("add", "Make a key for an agent: the key is printed once on standard output, only its hash is stored.");
        options.AddTo(command);
        command.Options.Add(agent);
        command.Options.Add(label);
        command.Options.Add(expires);
        command.SetAction(parse =>
        {
            TextWriter error = parse.InvocationConfiguration.Error;
            if (Open(options, parse, environment, out string path, out List<ApiKeyEntry> entries, out ConfigurationSnapshot? snapshot) is int failed)
            {
                return failed;
            }

            string name = parse.GetRequiredValue(agent);
            if (snapshot!.Policy.FindAgent(name) is null)
            {
                string? closest = JsonNodeReader.Closest(name, snapshot.Policy.Agents.Select(a => a.Name));
                error.WriteLine($"error: '{name}' is not an agent in {snapshot.Rules.SourceFile}.{(closest is null ? string.Empty : $" Did you mean '{closest}'?")} Names are case-sensitive.");
                return ExitCodes.Usage;
            }

            DateTimeOffset now = time.GetUtcNow();
            DateTimeOffset? expiry = null;
            if (parse.GetValue(expires) is { } text)
            {
                if (ParseExpiry(text, now) is not { } parsed)
                {
                    error.WriteLine($"error: --expires '{text}' is not a date, a time or a span. Fix: write for example 2027-01-31, 2027-01-31T12:00:00Z or 90d.");
                    return ExitCodes.Usage;
                }

                if (parsed <= now)
                {
                    error.WriteLine($"error: --expires {text} is in the past.");
                    return ExitCodes.Usage;
                }

                expiry = parsed;
            }

            (string id, string key) = ApiKey.Generate(candidate => entries.Exists(e => e.Id == candidate));
            entries.Add(new ApiKeyEntry { Id = id, Agent = name, Label = parse.GetValue(label), Created = now, Expires = expiry, Hash = ApiKey.Hash(key) });
            if (Save(path, entries, error) is int notSaved)
            {
                return notSaved;
            }

            // The key is the only thing on standard output, so `KEY=$(mcp-gateway keys add ...)` captures just it.
            parse.InvocationConfiguration.Output.WriteLine(key);
            error.WriteLine($"added key {id} for agent '{name}' to {path}{(expiry is { } e ? $", expires {Format(e)}" : string.Empty)}. It is shown only now: store it safely.");
            error.WriteLine("agents send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'; a gateway started without a keys file must be restarted to require keys.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command List(DiscoveryEnvironment environment, TimeProvider time)
    {
        var options = new ConfigOptions();
        var json = new Option<bool>("--json") { Description = "Print JSON: an array of {\"id\",\"agent\",\"label\",\"created\",\"expires\",\"revoked\",\"state\"}." };
        var command = new Command("list", "List the keys: ids, agents, labels, dates and whether each is active (never the keys).");
        options.AddTo(command);
        command.Options.Add(json);
        command.SetAction(parse =>
        {
            if (Open(options, parse, environment, out string path, out List<ApiKeyEntry> entries, out _) is int failed)
            {
                return failed;
            }

            TextWriter output = parse.InvocationConfiguration.Output;
            DateTimeOffset now = time.GetUtcNow();
            if (parse.GetValue(json))
            {
                using var stream = new MemoryStream();
                using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
                {
                    writer.WriteStartArray();
                    foreach (ApiKeyEntry entry in entries)
                    {
                        writer.WriteStartObject();
                        writer.WriteString("id", entry.Id);
                        writer.WriteString("agent", entry.Agent);
                        WriteOptional(writer, "label", entry.Label);
                        writer.WriteString("created", Format(entry.Created));
                        WriteOptional(writer, "expires", entry.Expires is { } e ? Format(e) : null);
                        WriteOptional(writer, "revoked", entry.Revoked is { } r ? Format(r) : null);
                        writer.WriteString("state", entry.State(now));
                        writer.WriteEndObject();
                    }

                    writer.WriteEndArray();
                }

                output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
                return ExitCodes.Success;
            }

            if (entries.Count == 0)
            {
                output.WriteLine($"no keys in {path}. Add one with 'mcp-gateway keys add --agent NAME'.");
                return ExitCodes.Success;
            }

            string[][] rows =
            [
                ["ID", "AGENT", "LABEL", "CREATED", "EXPIRES", "STATE"],
                .. entries.Select(e => (string[])[e.Id, e.Agent, e.Label ?? "", Format(e.Created), e.Expires is { } x ? Format(x) : "never", e.State(now)]),
            ];
            int[] widths = [.. Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length))];
            foreach (string[] row in rows)
            {
                output.WriteLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Revoke(DiscoveryEnvironment environment, TimeProvider time)
    {
        var options = new ConfigOptions();
        var id = new Argument<string>("ID") { Description = "The key's id, as 'keys list' shows it." };
        var command = new Command("revoke", "Revoke a key: it stops working at once in every gateway that reads this keys file.");
        options.AddTo(command);
        command.Arguments.Add(id);
        command.SetAction(parse =>
        {
            TextWriter error = parse.InvocationConfiguration.Error;
            if (Open(options, parse, environment, out string path, out List<ApiKeyEntry> entries, out _) is int failed)
            {
                return failed;
            }

            string target = parse.GetRequiredValue(id);
            int index = entries.FindIndex(e => e.Id == target);
            if (index < 0)
            {
                error.WriteLine($"error: no key with id '{target}' in {path}. Run 'mcp-gateway keys list' to see the ids.");
                return ExitCodes.InvalidConfiguration;
            }

            if (entries[index].Revoked is { } already)
            {
                error.WriteLine($"key {target} was already revoked at {Format(already)}.");
                return ExitCodes.Success;
            }

            entries[index] = entries[index] with { Revoked = time.GetUtcNow() };
            if (Save(path, entries, error) is int notSaved)
            {
                return notSaved;
            }

            error.WriteLine($"revoked key {target} of agent '{entries[index].Agent}' in {path}.");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Loads the configuration (as validate does) and the keys file it names; returns an exit code on failure.</summary>
    private static int? Open(ConfigOptions options, ParseResult parse, DiscoveryEnvironment environment, out string path, out List<ApiKeyEntry> entries, out ConfigurationSnapshot? snapshot)
    {
        TextWriter error = parse.InvocationConfiguration.Error;
        entries = [];
        path = string.Empty;
        // Only errors: warnings about the files are 'validate''s business, and would bury the one line that matters.
        ConfigLoadResult<ConfigurationSnapshot> loaded = options.Load(parse, error, environment, warnings: false);
        snapshot = loaded.Value;
        if (!loaded.Succeeded)
        {
            error.WriteLine("cannot manage keys: the configuration is invalid (see above).");
            return ExitCodes.InvalidConfiguration;
        }

        path = snapshot!.Settings.Authentication.ApiKeys?.File
            ?? SettingsLoader.DefaultKeysFile(snapshot.Settings.SourceFile, snapshot.Rules.SourceFile, environment.CurrentDirectory);
        if (!File.Exists(path))
        {
            return null;
        }

        ConfigLoadResult<IReadOnlyList<ApiKeyEntry>> file = ApiKeyFile.Load(path);
        foreach (ConfigDiagnostic diagnostic in file.Diagnostics)
        {
            error.WriteLine(diagnostic.ToString());
        }

        if (!file.Succeeded)
        {
            error.WriteLine($"cannot manage keys: {path} is invalid (see above).");
            return ExitCodes.InvalidConfiguration;
        }

        entries = [.. file.Value!];
        return null;
    }

    private static int? Save(string path, List<ApiKeyEntry> entries, TextWriter error)
    {
        try
        {
            ApiKeyFile.Save(path, entries);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"{path}: error: cannot write the keys file: {ex.Message}");
            return ExitCodes.InvalidConfiguration;
        }
    }

    internal static DateTimeOffset? ParseExpiry(string text, DateTimeOffset now)
    {
        if (text.Length > 1 && char.IsAsciiDigit(text[0]) && text[^1] is 'd' or 'h' &&
            int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int amount) && amount > 0)
        {
            return text[^1] == 'd' ? now.AddDays(amount) : now.AddHours(amount);
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset parsed) ? parsed : null;
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
