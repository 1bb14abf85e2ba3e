using System.Text.Json.Nodes;

namespace McpGateway.Configuration;

/// <summary>
/// Reads the servers file: the <c>mcpServers</c> format of Claude Desktop, Cursor and Claude Code, and VS Code's
/// <c>servers</c> format. Reports every problem in one pass.
/// </summary>
internal static class ServersConfigParser
{
    private const int MaxPrefixLength = 40;

    private static readonly string[] s_serverProperties =
    [
        "command", "args", "env", "cwd", "url", "headers", "type", "transport",
        "description", "enabled", "disabled", "prefix", "startTimeoutMs", "callTimeoutMs", "maxMessageBytes", "required",
    ];

    // Keys other tools write into the same files; accepted silently so one file can serve them all.
    private static readonly string[] s_foreignServerProperties = ["autoApprove", "alwaysAllow", "envFile", "gallery", "version"];

    private static readonly string[] s_topLevelProperties = ["mcpServers", "servers"];
    private static readonly string[] s_foreignTopLevelProperties = ["inputs", "$schema"];

    public static ConfigLoadResult<ServersConfig> Parse(ConfigDocument document)
    {
        DiagnosticBag bag = document.Diagnostics;
        var reader = new JsonNodeReader(document);
        if (document.Root is null)
        {
            return new ConfigLoadResult<ServersConfig>(null, bag.Items);
        }

        JsonObject? root = reader.Object(document.Root, JsonPath.Root, "the servers file is a JSON object: {\"mcpServers\": {\"name\": {...}}}.");
        if (root is null)
        {
            return new ConfigLoadResult<ServersConfig>(null, bag.Items);
        }

        reader.UnknownProperties(root, JsonPath.Root, [.. s_topLevelProperties, .. s_foreignTopLevelProperties], asErrors: false, "servers file");

        string key;
        if (root.ContainsKey("mcpServers") && root.ContainsKey("servers"))
        {
            bag.Error("$.servers", "the file has both 'mcpServers' and 'servers'.", "keep one: 'mcpServers' (Claude Desktop, Cursor, Claude Code) or 'servers' (VS Code).");
            key = "mcpServers";
        }
        else if (root.ContainsKey("servers"))
        {
            key = "servers";
        }
        else if (root.ContainsKey("mcpServers"))
        {
            key = "mcpServers";
        }
        else
        {
            bag.Error(JsonPath.Root, "no 'mcpServers' object.", "add \"mcpServers\": {\"name\": {\"command\": \"...\"}} (or VS Code's \"servers\").");
            return new ConfigLoadResult<ServersConfig>(null, bag.Items);
        }

        string serversPath = JsonPath.Property(JsonPath.Root, key);
        JsonObject? serversNode = reader.Object(root[key], serversPath, "write an object whose keys are server names: {\"everything\": {\"command\": \"node\", \"args\": [...]}}.");
        var servers = new List<ServerConfig>();
        if (serversNode is not null)
        {
            if (serversNode.Count == 0)
            {
                bag.Warning(serversPath, "no servers are configured; agents will see only the gateway's own tools.", "add at least one server.");
            }

            foreach ((string name, JsonNode? node) in serversNode)
            {
                ServerConfig? server = ParseServer(reader, name, node, JsonPath.Property(serversPath, name));
                if (server is not null && IsThisGateway(server))
                {
                    bag.Error(
                        JsonPath.Property(serversPath, name),
                        $"server '{name}' is mcp-gateway itself: the gateway would start a copy of itself, which would start another.",
                        "this is probably a client's file (Claude Code's .mcp.json lists the gateway): point --config at the gateway's own servers file, or remove the entry.");
                }
                else if (server is not null)
                {
                    servers.Add(server);
                }
            }
        }

        var config = new ServersConfig { SourceFile = document.File, Positions = document.Positions, Servers = servers };
        return new ConfigLoadResult<ServersConfig>(bag.HasErrors ? null : config, bag.Items);
    }

    private static ServerConfig? ParseServer(JsonNodeReader reader, string name, JsonNode? node, string path)
    {
        DiagnosticBag bag = reader.Diagnostics;
        int errorsBefore = bag.Items.Count(d => d.IsError);
        if (name.Trim().Length == 0 || name.Any(char.IsControl))
        {
            bag.Error(path, "a server name must have visible characters.", "name the server, for example \"github\".");
        }

        JsonObject? obj = reader.Object(node, path, "describe the server: {\"command\": \"node\", \"args\": [...]} or {\"url\": \"https://host/mcp\"}.");
        if (obj is null)
        {
            return null;
        }

        reader.UnknownProperties(obj, path, [.. s_serverProperties, .. s_foreignServerProperties], asErrors: false, "server");

        ServerTransport? declared = null;
        foreach (string typeKey in (string[])["type", "transport"])
        {
            if (obj[typeKey] is not { } typeNode)
            {
                continue;
            }

            string typePath = JsonPath.Property(path, typeKey);
            string? type = reader.String(typeNode, typePath, "write \"stdio\", \"http\" or \"sse\".");
            ServerTransport? parsed = type?.ToLowerInvariant() switch
            {
                "stdio" => ServerTransport.Stdio,
                "http" or "streamable-http" or "streamablehttp" or "streamable_http" => ServerTransport.Http,
                "sse" => ServerTransport.Sse,
                null => null,
                _ => Unknown(bag, typePath, reader.IsSubstituted(typePath) ? "the value" : $"'{type}'"),
            };
            if (parsed is not null && declared is not null && parsed != declared)
            {
                bag.Error(typePath, "'type' and 'transport' disagree.", "keep one of them.");
            }

            declared ??= parsed;
        }

        bool hasCommand = obj.ContainsKey("command");
        bool hasUrl = obj.ContainsKey("url");
        ServerTransport transport;
        if (hasCommand && hasUrl)
        {
            bag.Error(path, "has both 'command' and 'url'.", "a stdio server has 'command'; a remote server has 'url'. Keep one.");
            transport = ServerTransport.Stdio;
        }
        else if (!hasCommand && !hasUrl)
        {
            bag.Error(path, "has neither 'command' nor 'url'.", "add \"command\" (with \"args\") for a local server or \"url\" for a remote one.");
            transport = declared ?? ServerTransport.Stdio;
        }
        else
        {
            transport = hasCommand ? ServerTransport.Stdio : declared ?? ServerTransport.Http;
            if (hasCommand && declared is ServerTransport.Http or ServerTransport.Sse)
            {
                bag.Error(JsonPath.Property(path, obj.ContainsKey("type") ? "type" : "transport"), $"says '{declared.ToString()!.ToLowerInvariant()}' but the server has a 'command'.", "remove 'type' or replace 'command' with 'url'.");
            }
            else if (hasUrl && declared is ServerTransport.Stdio)
            {
                bag.Error(JsonPath.Property(path, obj.ContainsKey("type") ? "type" : "transport"), "says 'stdio' but the server has a 'url'.", "write \"http\" (Streamable HTTP) or \"sse\" (legacy SSE), or replace 'url' with 'command'.");
            }
        }

        string? command = null;
        IReadOnlyList<string> args = [];
        IReadOnlyDictionary<string, string> env = ServerConfig.EmptyMap;
        string? cwd = null;
        Uri? url = null;
        IReadOnlyDictionary<string, string> headers = ServerConfig.EmptyMap;

        if (hasCommand)
        {
            command = reader.String(obj["command"], JsonPath.Property(path, "command"), "name the program to start, for example \"npx\" or \"node\".");
            if (obj.ContainsKey("args"))
            {
                args = reader.StringArray(obj["args"], JsonPath.Property(path, "args"), "write the arguments as an array of strings, for example [\"-y\", \"@modelcontextprotocol/server-memory\"].") ?? [];
            }

            if (obj.ContainsKey("env"))
            {
                env = reader.StringMap(obj["env"], JsonPath.Property(path, "env"), "write each variable as a string, for example \"PORT\": \"8080\".") ?? ServerConfig.EmptyMap;
            }

            if (obj.ContainsKey("cwd"))
            {
                cwd = reader.String(obj["cwd"], JsonPath.Property(path, "cwd"), "write the working directory as a path string.");
            }

            if (obj.ContainsKey("headers"))
            {
                bag.Warning(JsonPath.Property(path, "headers"), "'headers' applies only to remote servers and is ignored for a stdio server.", "remove it, or pass the values through 'env'.");
            }
        }

        if (hasUrl)
        {
            string urlPath = JsonPath.Property(path, "url");
            string? text = reader.String(obj["url"], urlPath, "write the server's address, for example \"https://mcp.example.com/mcp\".");
            if (text is not null)
            {
                if (Uri.TryCreate(text, UriKind.Absolute, out Uri? parsed) && (parsed.Scheme == Uri.UriSchemeHttp || parsed.Scheme == Uri.UriSchemeHttps))
                {
                    url = parsed;
                }
                else
                {
                    string shown = reader.IsSubstituted(urlPath) || IsSecretLooking(text) ? "the value" : $"'{text}'";
                    bag.Error(urlPath, $"{shown} is not an absolute http:// or https:// URL.", "write the full address, for example \"https://mcp.example.com/mcp\".");
                }
            }

            if (obj.ContainsKey("headers"))
            {
                string headersPath = JsonPath.Property(path, "headers");
                headers = reader.StringMap(obj["headers"], headersPath, "write each header as a string, for example \"Authorization\": \"Bearer ${TOKEN}\".") ?? ServerConfig.EmptyMap;
                CheckHeaders(bag, headers, headersPath);
            }

            foreach (string stdioOnly in (string[])["args", "env", "cwd"])
            {
                if (obj.ContainsKey(stdioOnly))
                {
                    bag.Warning(JsonPath.Property(path, stdioOnly), $"'{stdioOnly}' applies only to stdio servers and is ignored for a remote server.", "remove it.");
                }
            }
        }

        string? description = obj.ContainsKey("description")
            ? reader.String(obj["description"], JsonPath.Property(path, "description"), "write a short sentence agents will read.", allowEmpty: true)
            : null;

        bool enabled = true;
        if (obj.ContainsKey("enabled"))
        {
            enabled = reader.Boolean(obj["enabled"], JsonPath.Property(path, "enabled")) ?? true;
        }

        if (obj.ContainsKey("disabled"))
        {
            bool? disabled = reader.Boolean(obj["disabled"], JsonPath.Property(path, "disabled"));
            if (obj.ContainsKey("enabled") && disabled == enabled)
            {
                bag.Error(JsonPath.Property(path, "disabled"), "'enabled' and 'disabled' contradict each other.", "keep one of them.");
            }
            else if (disabled is true)
            {
                enabled = false;
            }
        }

        string? prefix = null;
        if (obj.ContainsKey("prefix"))
        {
            string prefixPath = JsonPath.Property(path, "prefix");
            prefix = reader.String(obj["prefix"], prefixPath, "write letters, digits, '_' or '-', or \"\" for no prefix.", allowEmpty: true);
            if (prefix is not null && (prefix.Length > MaxPrefixLength || !prefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
            {
                bag.Error(prefixPath, $"a prefix may hold only letters, digits, '_' and '-', at most {MaxPrefixLength} of them, because clients reject other tool names.", "write something like \"gh\", or \"\" for no prefix.");
                prefix = null;
            }
        }

        TimeSpan? startTimeout = obj.ContainsKey("startTimeoutMs") ? reader.Milliseconds(obj["startTimeoutMs"], JsonPath.Property(path, "startTimeoutMs")) : null;
        TimeSpan? callTimeout = obj.ContainsKey("callTimeoutMs") ? reader.Milliseconds(obj["callTimeoutMs"], JsonPath.Property(path, "callTimeoutMs")) : null;

        long? maxMessageBytes = null;
        if (obj.ContainsKey("maxMessageBytes"))
        {
            string sizePath = JsonPath.Property(path, "maxMessageBytes");
            if (obj["maxMessageBytes"] is JsonValue sizeValue && (sizeValue.TryGetValue(out long size) || sizeValue.TryGetValue(out string? sizeText) && long.TryParse(sizeText, out size)) && size is >= 1024 and <= int.MaxValue)
            {
                maxMessageBytes = size;
            }
            else
            {
                bag.Error(sizePath, "expected a whole number of bytes from 1024 to 2147483647.", "write for example 16777216 (16 MiB, the default).");
            }
        }

        bool required = obj.ContainsKey("required") && (reader.Boolean(obj["required"], JsonPath.Property(path, "required")) ?? false);

        if (bag.Items.Count(d => d.IsError) > errorsBefore)
        {
            return null;
        }

        return new ServerConfig
        {
            Name = name,
            Transport = transport,
            Command = command,
            Args = args,
            Env = env,
            WorkingDirectory = cwd,
            Url = url,
            Headers = headers,
            Description = description,
            Enabled = enabled,
            Prefix = prefix,
            StartTimeout = startTimeout,
            CallTimeout = callTimeout,
            MaxMessageBytes = maxMessageBytes,
            Required = required,
            SourcePath = path,
        };
    }

    /// <summary>
    /// An entry that runs the gateway's own <c>serve</c>: <c>mcp-gateway serve …</c> (the installed tool), <c>dotnet
    /// …/mcp-gateway.dll serve …</c>, <c>dotnet run --project …McpGateway… -- serve</c>, or a package runner with the
    /// <c>mcp-gateway</c> package.
    /// </summary>
    private static bool IsThisGateway(ServerConfig server)
    {
        if (server.Transport != ServerTransport.Stdio || server.Command is null || !server.Args.Contains("serve"))
        {
            return false;
        }

        string program = Path.GetFileNameWithoutExtension(server.Command);
        static bool Names(string text) =>
            text.Contains("mcp-gateway", StringComparison.OrdinalIgnoreCase) || text.Contains("McpGateway", StringComparison.OrdinalIgnoreCase);
        return program.Equals("mcp-gateway", StringComparison.OrdinalIgnoreCase) ||
            (program is "dotnet" or "npx" or "dnx" or "bunx" && server.Args.TakeWhile(a => a != "serve").Any(Names));
    }

    /// <summary>
    /// Header names must be HTTP tokens and values must hold no control characters: a CR or LF (often from a
    /// variable with a trailing newline) would end the header and start another the server never meant to get.
    /// </summary>
    private static void CheckHeaders(DiagnosticBag bag, IReadOnlyDictionary<string, string> headers, string path)
    {
        foreach ((string name, string value) in headers)
        {
            string itemPath = JsonPath.Property(path, name);
            if (name.Length == 0 || !name.All(c => c > ' ' && c < 127 && "\"(),/:;<=>?@[\\]{}".IndexOf(c, StringComparison.Ordinal) < 0))
            {
                bag.Error(itemPath, "is not a valid HTTP header name.", "use letters, digits and '-', for example \"X-Tenant\".");
            }
            else if (value.Any(c => char.IsControl(c) && c != '\t'))
            {
                // Never echo the value: header values are often credentials.
                bag.Error(itemPath, "the value holds a line break or another control character, which would split the header.", "remove it (a variable read from a file often ends with a newline).");
            }
        }
    }

    private static ServerTransport? Unknown(DiagnosticBag bag, string path, string value)
    {
        bag.Error(path, $"{value} is not a transport this gateway knows.", "write \"stdio\", \"http\" (Streamable HTTP) or \"sse\" (legacy SSE).");
        return null;
    }

    // A URL that carries credentials (user:password@ or a token in the query) is not echoed in messages.
    private static bool IsSecretLooking(string text) => text.Contains('@', StringComparison.Ordinal) || text.Contains('?', StringComparison.Ordinal);
}
