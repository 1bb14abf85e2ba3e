using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CsCheck;
using McpGateway.Configuration;
using McpGateway.Identity.ApiKeys;

namespace McpGateway.Tests.Configuration;

/// <summary>
/// Property-based tests of the three configuration files (and the keys file): generated files, shaped like real
/// ones but with random keys, values of every type, <c>${VAR}</c> forms, comments, and then mutated (truncated,
/// characters inserted, deleted or replaced, bytes that are not UTF-8). Whatever the input, loading never throws,
/// every error names its file and a JSON path or position, and no value taken from the environment is ever echoed.
/// </summary>
public sealed class FuzzConfigurationFilesTests
{
    private const int Iterations = 3000;

    /// <summary>Variables the generated files refer to; each value is a canary (one ends in a newline, one looks like a reference itself).</summary>
    private static readonly Dictionary<string, string> s_variables = new(StringComparer.Ordinal)
    {
        ["VAR"] = Canary("var"),
        ["TOKEN"] = Canary("token") + "\n",
        ["URL"] = "http://" + Canary("url") + ".example/mcp?key=1",
        ["PORT"] = Canary("port"),
        ["NESTED"] = "${VAR}" + Canary("nested"),
        ["EMPTY"] = string.Empty,
    };

    private static readonly string[] s_canaries = [.. s_variables.Values.Where(v => v.Length > 0).Select(v => v.Contains("canary", StringComparison.Ordinal) ? v[v.IndexOf("canary", StringComparison.Ordinal)..].TrimEnd('\n') : v)];

    private static readonly DiscoveryEnvironment s_environment = new(Lookup, _ => false, "/nonexistent/cwd", "/nonexistent/home") { AddSettingsVariables = _ => { } };

    private static string Canary(string name) => "canary-" + name + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private static string? Lookup(string name) => s_variables.GetValueOrDefault(name);

    // ---- generators -------------------------------------------------------------------------------------------

    private static readonly Gen<string> s_reference = AnyOf(
        Gen.OneOf<string>("${VAR}", "${TOKEN}", "${URL}", "${PORT}", "${NESTED}", "${EMPTY}", "${UNSET}", "${UNSET:-fallback}", "${EMPTY:-d}", "${VAR:-x}",
            "${", "${}", "${VAR", "$${VAR}", "$", "${:-x}", "${VAR:-${TOKEN}}", "x${VAR}y${TOKEN}z", "${lower}", "${1}"),
        Gen.String[Gen.Char.AlphaNumeric, 0, 6].Select(n => "${" + n + "}"));

    private static readonly Gen<string> s_word = Gen.Frequency(
        (6, Gen.String[Gen.Char.AlphaNumeric, 1, 10]),
        (2, Gen.String[Gen.Char['!', '~'], 0, 12]),
        (1, Gen.String[Gen.Char, 0, 8]),
        (1, Gen.OneOf<string>("*", "?", "a*", "*_b", "[x]", "", " ", "everything", "echo", "get_*", "stdio", "http", "sse", "streamableHttp", "proxy", "discovery")));

    private static readonly Gen<string> s_stringValue = Gen.Frequency((5, s_word), (3, s_reference), (1, Gen.OneOf<string>(
        "https://mcp.example.com/mcp", "http://127.0.0.1:1/mcp", "ftp://h/x", "https://user:pass@h/mcp", "not a url", "node", "/usr/bin/env", "127.0.0.1:0", "0", "65536", "localhost:8080", "[::1]:1")));

    private static readonly Gen<string> s_scalar = Gen.Frequency(
        (6, s_stringValue.Select(Quote)),
        (2, Gen.OneOf<string>("0", "-1", "1", "1.5", "1e400", "-0", "9223372036854775808", "123456789012345678901234567890", "30000", "86400001")),
        (1, Gen.Int.Select(i => i.ToString(CultureInfo.InvariantCulture))),
        (1, Gen.OneOf<string>("true", "false", "null")));

    private static Gen<string> Value(int depth) => depth <= 0
        ? s_scalar
        : Gen.Frequency((6, s_scalar), (2, Value(depth - 1).Array[0, 3].Select(Array)), (2, Gen.Select(s_word, Value(depth - 1)).Array[0, 3].Select(Object)));

    private static readonly Gen<string> s_anyValue = Value(3);

    /// <summary>An object with each of <paramref name="keys"/> present or not (values from <paramref name="values"/>), and now and then an unknown key.</summary>
    private static Gen<string> SomeOf(string[] keys, Func<string, Gen<string>> values)
    {
        Gen<string[]> members = Gen.Const(System.Array.Empty<string>());
        foreach (string key in keys)
        {
            Gen<string?> member = Gen.Frequency((1, Gen.OneOf<string?>((string?)null)), (2, values(key).Select(v => (string?)(Quote(key) + ": " + v))));
            members = Gen.Select(members, member, (before, m) => m is null ? before : [.. before, m]);
        }

        Gen<string?> unknown = Gen.Frequency((6, Gen.OneOf<string?>((string?)null)), (1, Gen.Select(s_word, s_anyValue, (k, v) => (string?)(Quote(k) + ": " + v))));
        return Gen.Select(members, unknown, (known, extra) => "{" + string.Join(", ", extra is null ? known : [.. known, extra]) + "}");
    }

    private static Gen<string> Map(Gen<string> keys, Gen<string> values, int max = 3) => Gen.Select(keys, values).Array[0, max].Select(Object);

    private static Gen<string> ListOf(Gen<string> items) => Gen.Frequency((4, items.Array[0, 4].Select(Array)), (1, s_anyValue));

    private static readonly Gen<string> s_patterns = ListOf(s_stringValue.Select(Quote));

    private static readonly string[] s_serverKeys =
        ["command", "args", "env", "cwd", "url", "headers", "type", "transport", "description", "enabled", "prefix", "startTimeoutMs", "callTimeoutMs", "disabled"];

    private static readonly Gen<string> s_server = SomeOf(s_serverKeys, key => key switch
    {
        "args" => ListOf(s_stringValue.Select(Quote)),
        "env" => Gen.Frequency((4, Map(s_word.Select(Quote), s_stringValue.Select(Quote))), (1, s_anyValue)),
        "headers" => Gen.Frequency((4, Map(AnyOf(s_word, Gen.OneOf<string>("Authorization", "X-A", "Bad Name", "X:Y", "")).Select(Quote), AnyOf(s_stringValue, Gen.OneOf<string>("a\r\nb", "\u0000", "Bearer ${TOKEN}")).Select(Quote))), (1, s_anyValue)),
        "enabled" => Gen.Frequency((3, Gen.OneOf<string>("true", "false")), (1, s_anyValue)),
        _ => Gen.Frequency((4, s_stringValue.Select(Quote)), (1, s_anyValue)),
    });

    private static readonly Gen<string> s_serversFile = Gen.Frequency(
        (8, Map(s_word.Select(Quote), s_server, 4).Select(servers => Object([("mcpServers", servers)]))),
        (2, Map(s_word.Select(Quote), s_server, 3).Select(servers => Object([("servers", servers)]))),
        (1, Map(s_word, s_anyValue).Select(x => x)));

    private static readonly Gen<string> s_itemLists = Gen.Frequency(
        (3, Map(s_word.Select(Quote), Gen.Frequency((3, s_patterns), (1, Gen.Const("\"*\""))))),
        (1, s_patterns),
        (1, s_anyValue));

    private static readonly Gen<string> s_accessList = SomeOf(["servers", "tools", "resources", "prompts"], key => key == "servers" ? s_patterns : s_itemLists);

    private static readonly Gen<string> s_agent = SomeOf(["description", "allow", "deny"], key => key == "description" ? s_stringValue.Select(Quote) : s_accessList);

    private static readonly Gen<string> s_seedAgent = SomeOf(["servers", "tools", "resources", "prompts", "description"], key => key switch
    {
        "servers" => s_patterns,
        "tools" => Gen.Frequency((2, Gen.Const("\"*\"")), (3, s_itemLists)),
        _ => s_itemLists,
    });

    private static readonly Gen<string> s_defaults = SomeOf(["deny_on_missing_agent", "default_agent"], key => key == "default_agent" ? s_stringValue.Select(Quote) : AnyOf(Gen.OneOf<string>("true", "false"), s_anyValue));

    private static readonly Gen<string> s_rulesFile = Gen.Frequency(
        (5, Gen.Select(Map(s_word.Select(Quote), s_agent, 3), Gen.Frequency((2, s_defaults), (1, Gen.Const(string.Empty))), (agents, defaults) =>
            Object(defaults.Length == 0 ? [("agents", agents)] : [("agents", agents), ("defaults", defaults)]))),
        (3, Map(s_word.Select(Quote), s_seedAgent, 3).Select(agents => Object([("access_rules", agents)]))),
        (1, Map(s_word, s_anyValue)));

    private static Gen<string> Settings(SettingsShape shape, int depth) => shape switch
    {
        ObjectShape obj when depth > 0 => SomeOf([.. obj.Properties.Keys], key => Gen.Frequency((5, Settings(obj.Properties[key], depth - 1)), (1, s_anyValue))),
        MapShape map when depth > 0 => Map(s_word.Select(Quote), Settings(map.Values, depth - 1)),
        ListShape => ListOf(s_stringValue.Select(Quote)),
        _ => s_scalar,
    };

    private static readonly Gen<string> s_settingsFile = Settings(SettingsSchema.Root, 4);

    private static readonly Gen<string> s_keysFile = Gen.Frequency(
        (4, SomeOf(["id", "agent", "label", "created", "expires", "revoked", "hash"], key => key switch
        {
            "created" or "expires" or "revoked" => AnyOf(Gen.OneOf<string>("\"2026-12-01T00:00:00Z\"", "\"yesterday\"", "\"9999-99-99\""), s_scalar),
            "hash" => AnyOf(Gen.OneOf<string>("\"" + ApiKey.Hash("mgw_00000000_x") + "\"", "\"sha256:\"", "\"sha256:!!\""), s_scalar),
            _ => s_scalar,
        }).Array[0, 3].Select(keys => Object([("keys", Array(keys))]))),
        (1, s_anyValue));

    /// <summary>Mutates valid-looking text the ways editors and shells do: cut short, characters lost, added or replaced, comments.</summary>
    private static Gen<string> Mutated(Gen<string> files) => Gen.Select(files, Gen.Int[0, 9], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], Gen.OneOf<string>("{", "}", "\"", ",", ":", "\\", "\n", "\r", "\u0000", "//", "/*", "*/", "${", "\uFEFF", "\uD800", "é", "[", "]"))
        .Select((text, kind, a, b, inserted) =>
        {
            int at = text.Length == 0 ? 0 : a % text.Length;
            int span = text.Length - at == 0 ? 0 : 1 + (b % Math.Min(16, text.Length - at));
            return kind switch
            {
                0 => text[..at],
                1 => text.Remove(at, span),
                2 or 3 => text.Insert(at, inserted),
                4 => text.Remove(at, span).Insert(at, inserted),
                5 => text.Insert(at, "/* comment */"),
                6 => text.Insert(at, text.Substring(at, span)),
                _ => text,
            };
        });

    // ---- properties -------------------------------------------------------------------------------------------

    [Fact]
    public void ServersFiles_GeneratedAndMutated_NeverThrow_AndEveryErrorSaysWhere_WithoutEnvironmentValues()
    {
        Mutated(s_serversFile).Sample(text => Check(ConfigurationLoader.ParseServers("servers.json", text, Lookup), "servers.json"), iter: Iterations, print: Print);
    }

    [Fact]
    public void RulesFiles_GeneratedAndMutated_NeverThrow_AndEveryErrorSaysWhere_WithoutEnvironmentValues()
    {
        Mutated(s_rulesFile).Sample(text => Check(ConfigurationLoader.ParseRules("rules.json", text, Lookup), "rules.json"), iter: Iterations, print: Print);
    }

    [Fact]
    public void SettingsFiles_GeneratedAndMutated_NeverThrow_AndEveryErrorSaysWhere_WithoutEnvironmentValues()
    {
        Mutated(s_settingsFile).Sample(text => Check(SettingsLoader.Parse("/nonexistent/settings.json", text, s_environment, rulesFile: "/nonexistent/rules.json"), "/nonexistent/settings.json"), iter: Iterations, print: Print);
    }

    [Fact]
    public void KeysFiles_GeneratedAndMutated_NeverThrow_AndEveryErrorSaysWhere()
    {
        Mutated(s_keysFile).Sample(text => Check(ApiKeyFile.Parse("keys.json", text), "keys.json"), iter: Iterations / 3, print: Print);
    }

    [Fact]
    public void ServersAndRules_Combined_NeverThrow_AndEveryErrorSaysWhere_WithoutEnvironmentValues()
    {
        Gen.Select(s_serversFile, s_rulesFile, AnyOf(Gen.OneOf<string?>((string?)null), s_word.Select(w => (string?)w))).Sample((servers, rules, defaultAgent) =>
        {
            ConfigLoadResult<ServersConfig> parsedServers = ConfigurationLoader.ParseServers("servers.json", servers, Lookup);
            ConfigLoadResult<RulesConfig> parsedRules = ConfigurationLoader.ParseRules("rules.json", rules, Lookup);
            var diagnostics = parsedServers.Diagnostics.Concat(parsedRules.Diagnostics).ToList();
            ConfigLoadResult<ConfigurationSnapshot> combined = ConfigurationLoader.Combine(parsedServers.Value, parsedRules.Value, diagnostics, defaultAgent);
            // The one error that is about no file: the default agent named by a flag or GATEWAY_DEFAULT_AGENT.
            Check(combined with { Diagnostics = [.. combined.Diagnostics.Where(d => !d.Message.Contains("(from GATEWAY_DEFAULT_AGENT or --default-agent)", StringComparison.Ordinal))] }, null);
            if (combined.Value is { } snapshot)
            {
                // The compiled policy answers for any name without throwing.
                foreach (string agent in snapshot.Rules.Agents.Select(a => a.Name).Append("nobody"))
                {
                    foreach (string server in snapshot.Servers.Servers.Select(s => s.Name).Append("none"))
                    {
                        snapshot.Policy.DecideServer(agent, server);
                        snapshot.Policy.DecideTool(agent, server, "echo");
                        snapshot.Policy.DecidePrompt(agent, server, "p");
                        snapshot.Policy.DecideResource(agent, server, "demo://r/1");
                    }
                }
            }
        }, iter: Iterations / 3, print: t => Print(t.Item1) + " | " + Print(t.Item2));
    }

    [Fact]
    public void ServersFiles_AsRawBytes_NotUtf8OrCutMidCharacter_NeverThrow_AndSayWhere()
    {
        Gen.Select(s_serversFile, Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 4]).Select((text, at, bytes) =>
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(text);
            int position = utf8.Length == 0 ? 0 : at % utf8.Length;
            return (byte[])[.. utf8.AsSpan(0, position), .. bytes, .. utf8.AsSpan(position)];
        }).Sample(bytes => Check(ServersConfigParser.Parse(ConfigDocument.Read("servers.json", bytes, Lookup)), "servers.json"), iter: Iterations / 3, print: b => Convert.ToHexString(b.Length > 200 ? b[..200] : b));
    }

    private static void Check<T>(ConfigLoadResult<T> result, string? file)
        where T : class
    {
        Assert.Equal(result.Succeeded, result.Value is not null);
        foreach (ConfigDiagnostic diagnostic in result.Diagnostics)
        {
            string text = diagnostic.ToString();
            Assert.False(string.IsNullOrEmpty(diagnostic.File), text);
            if (file is not null && diagnostic.File != "(environment)")
            {
                Assert.Equal(file, diagnostic.File);
            }

            if (diagnostic.IsError)
            {
                Assert.True(diagnostic.JsonPath.StartsWith('$') || diagnostic.Line is not null, "an error that says neither a JSON path nor a position: " + text);
                Assert.False(string.IsNullOrWhiteSpace(diagnostic.Message), text);
            }

            foreach (string canary in s_canaries)
            {
                Assert.True(!text.Contains(canary, StringComparison.Ordinal), "a diagnostic echoes an environment value: " + text);
            }
        }
    }

    private static Gen<T> AnyOf<T>(params IGen<T>[] gens) => Gen.OneOf(gens);

    private static string Print(string text) => text.Length > 400 ? text[..400] + "…" : text;

    private static string Quote(string text)
    {
        var sb = new StringBuilder(text.Length + 2).Append('"');
        foreach (char c in text)
        {
            _ = c switch
            {
                '"' => sb.Append("\\\""),
                '\\' => sb.Append("\\\\"),
                < ' ' or > '~' => sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)),
                _ => sb.Append(c),
            };
        }

        return sb.Append('"').ToString();
    }

    private static string Array(string[] items) => "[" + string.Join(", ", items) + "]";

    private static string Object((string Key, string Value)[] members) =>
        "{" + string.Join(", ", members.Select(m => (m.Key.StartsWith('"') ? m.Key : Quote(m.Key)) + ": " + m.Value)) + "}";
}
