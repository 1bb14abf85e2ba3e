using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;

namespace McpGateway.Configuration;

/// <summary>A command-line flag that sets a setting; flags win over environment variables, which win over the file.</summary>
public sealed record SettingOverride(string Key, string Value, string Flag);

/// <summary>
/// Loads the settings: the file (with <c>${VAR}</c> expansion, positions and did-you-mean, like the other two files),
/// then <c>MCP_GATEWAY_*</c> environment variables, then command-line flags, layered by Microsoft.Extensions.Configuration.
/// Every problem is reported in one pass and names where the value came from: file, line and column with the JSON
/// path, the environment variable, or the flag. Values are not echoed in messages.
/// </summary>
public static class SettingsLoader
{
    public const string VariablePrefix = "MCP_GATEWAY_";

    private static readonly string[] s_modes = ["proxy", "discovery"];
    private static readonly string[] s_logLevels = ["trace", "debug", "information", "warning", "error", "critical", "none"];
    private static readonly string[] s_readiness = ["required", "all", "any"];
    private static readonly string[] s_logFormats = ["text", "json"];

    /// <param name="location">Where discovery found the file (a missing optional file means defaults).</param>
    /// <param name="rulesFile">The rules file: the keys file is looked for beside it when the settings name none.</param>
    public static ConfigLoadResult<GatewaySettings> Load(
        ConfigLocation location,
        DiscoveryEnvironment environment,
        IReadOnlyList<SettingOverride>? overrides = null,
        string? rulesFile = null)
    {
        var diagnostics = new List<ConfigDiagnostic>();
        ConfigDocument? document = null;
        if (location.Path is not null)
        {
            document = ConfigurationLoader.ReadDocument(location.Path, environment.GetVariable, out ConfigDiagnostic? failure, ConfigDocument.Shapes.Settings);
            if (document is null)
            {
                return new ConfigLoadResult<GatewaySettings>(null, [failure!]);
            }
        }

        return Load(document, environment, overrides ?? [], rulesFile, diagnostics);
    }

    /// <summary>Loads settings given as text (tests, examples).</summary>
    public static ConfigLoadResult<GatewaySettings> Parse(string file, string json, DiscoveryEnvironment environment, IReadOnlyList<SettingOverride>? overrides = null, string? rulesFile = null) =>
        Load(ConfigDocument.Read(file, System.Text.Encoding.UTF8.GetBytes(json), environment.GetVariable, ConfigDocument.Shapes.Settings), environment, overrides ?? [], rulesFile, []);

    private static ConfigLoadResult<GatewaySettings> Load(
        ConfigDocument? document,
        DiscoveryEnvironment environment,
        IReadOnlyList<SettingOverride> overrides,
        string? rulesFile,
        List<ConfigDiagnostic> diagnostics)
    {
        var fileValues = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var filePaths = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (document?.Root is { } root)
        {
            SettingsSchema.Check(new JsonNodeReader(document), root, SettingsSchema.Root, JsonPath.Root);
            SettingsSchema.Flatten(root, SettingsSchema.Root, string.Empty, JsonPath.Root, fileValues, filePaths);
        }

        if (document is not null)
        {
            diagnostics.AddRange(document.Diagnostics.Items);
        }

        var builder = new ConfigurationBuilder();
        builder.AddInMemoryCollection(fileValues);
        environment.AddSettingsVariables(builder);
        builder.AddInMemoryCollection(overrides.Select(o => new KeyValuePair<string, string?>(o.Key, o.Value)));
        IConfigurationRoot merged = builder.Build();

        WarnAboutUnknownVariables(environment, diagnostics);
        var reader = new Reader(merged, document, filePaths, overrides, environment, diagnostics);
        GatewaySettings settings = reader.Read(rulesFile);
        return new ConfigLoadResult<GatewaySettings>(diagnostics.Any(d => d.IsError) ? null : settings, diagnostics);
    }

    /// <summary>Where the keys file is when the settings name none: beside the settings file, else beside the rules file.</summary>
    public static string DefaultKeysFile(string? settingsFile, string? rulesFile, string currentDirectory)
    {
        string? folder = Path.GetDirectoryName(settingsFile ?? rulesFile ?? string.Empty);
        return Path.Combine(string.IsNullOrEmpty(folder) ? currentDirectory : folder, ApiKeySettings.DefaultFileName);
    }

    private static void WarnAboutUnknownVariables(DiscoveryEnvironment environment, List<ConfigDiagnostic> diagnostics)
    {
        var variablesOnly = new ConfigurationBuilder();
        environment.AddSettingsVariables(variablesOnly);
        foreach ((string key, string? value) in variablesOnly.Build().AsEnumerable())
        {
            if (value is not null && !SettingsSchema.IsKnownKey(key))
            {
                diagnostics.Add(new ConfigDiagnostic(
                    DiagnosticSeverity.Warning,
                    "(environment)",
                    VariableName(key),
                    "is not a known setting and is ignored.",
                    "check the name: MCP_GATEWAY_ followed by the JSON path with '__' between sections, for example MCP_GATEWAY_AUDIT__FILE."));
            }
        }
    }

    private static string VariableName(string key) => VariablePrefix + key.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant();

    /// <summary>Typed reads from the merged layers; each problem names the layer that supplied the value.</summary>
    private sealed class Reader(
        IConfigurationRoot merged,
        ConfigDocument? document,
        Dictionary<string, string> filePaths,
        IReadOnlyList<SettingOverride> overrides,
        DiscoveryEnvironment environment,
        List<ConfigDiagnostic> diagnostics)
    {
        private readonly string? _folder = document is null ? null : Path.GetDirectoryName(document.File);

        public GatewaySettings Read(string? rulesFile)
        {
            var http = new HttpSettings
            {
                Listen = Listen("http:listen"),
                Stateless = Bool("http:stateless", false),
                AllowedOrigins = Origins("http:allowedOrigins"),
                AllowUnauthenticated = Bool("http:allowUnauthenticated", false),
                MaxRequestBodyBytes = Long("http:maxRequestBodyBytes", HttpSettings.DefaultMaxRequestBodyBytes, 1024, 1L << 30),
            };
            var exposure = new ExposureSettings
            {
                Mode = Choice("exposure:mode", "proxy", s_modes),
                Separator = Separator("exposure:separator"),
            };
            var identity = new IdentitySettings
            {
                SelfAsserted = OptionalBool("identity:selfAsserted"),
                Header = HeaderName("identity:header", "X-Agent-Id"),
                Argument = Text("identity:argument", "agent_id", "write the name of the tool argument, for example \"agent_id\"."),
                AcceptHeader = Bool("identity:acceptHeader", true),
                AcceptArgument = Bool("identity:acceptArgument", true),
            };

            AuthenticationSettings authentication = ReadAuthentication(rulesFile);
            var limits = new LimitSettings
            {
                Sessions = new SessionLimitSettings
                {
                    Total = Int("limits:sessions:total", 10_000, 1, 1_000_000),
                    PerAgent = Int("limits:sessions:perAgent", 1_000, 1, 1_000_000),
                    PerClientAddress = Int("limits:sessions:perClientAddress", 1_000, 1, 1_000_000),
                    IdleTimeout = TimeSpan.FromSeconds(Int("limits:sessions:idleTimeoutSeconds", 1_800, 1, 7 * 24 * 3600)),
                },
                Rate = new RateLimitSettings
                {
                    Window = TimeSpan.FromSeconds(Int("limits:rate:windowSeconds", 60, 1, 24 * 3600)),
                    Calls = Int("limits:rate:calls", 0, 0, int.MaxValue),
                    Agents = CountMap("$.limits.rate.agents"),
                    Tools = ToolLimits("$.limits.rate.tools"),
                    HttpRequests = Int("limits:rate:httpRequests", 0, 0, int.MaxValue),
                },
            };
            var sessions = new SessionSettings
            {
                Keys = SessionKeys("sessions:keys"),
                MaxAge = TimeSpan.FromSeconds(Int("sessions:maxAgeSeconds", (int)SessionSettings.DefaultMaxAge.TotalSeconds, 60, 30 * 24 * 3600)),
            };
            var audit = new AuditSettings
            {
                File = AuditFile("audit:file"),
                MaxFileBytes = Long("audit:maxFileBytes", 100L * 1024 * 1024, 4096, long.MaxValue),
                MaxFiles = Int("audit:maxFiles", 5, 1, 1000),
                Arguments = Bool("audit:arguments", false),
                BufferRecords = Int("audit:bufferRecords", 16_384, 16, 10_000_000),
            };
            var admin = new AdminSettings { Agents = [.. ListKeys("admin:agents").Select(k => merged[k]).OfType<string>().Where(a => a.Length > 0)] };
            var health = new HealthSettings { ReadyWhen = Choice("health:readyWhen", "required", s_readiness) };
            var logging = new LoggingSettings
            {
                Level = Choice("logging:level", "information", s_logLevels),
                Format = Choice("logging:format", "text", s_logFormats),
            };
            SupervisionSettings supervision = ReadSupervision();
            var telemetry = new TelemetrySettings
            {
                Metrics = Bool("telemetry:metrics", true),
                Traces = OptionalBool("telemetry:traces"),
            };

            return new GatewaySettings
            {
                SourceFile = document?.File,
                Http = http,
                Exposure = exposure,
                Identity = identity,
                Authentication = authentication,
                Limits = limits,
                Sessions = sessions,
                Audit = audit,
                Logging = logging,
                Telemetry = telemetry,
                Admin = admin,
                Health = health,
                Redis = ReadRedis(),
                Supervision = supervision,
            };
        }

        /// <summary>
        /// The shared store: the configuration string is parsed by StackExchange.Redis itself, the client that will use
        /// it, and a problem names the option, never its value (the string may hold a password).
        /// </summary>
        private RedisSettings ReadRedis()
        {
            const string Key = "redis:configuration";
            string? configuration = merged[Key];
            if (configuration is not null)
            {
                const string Fix = "write a StackExchange.Redis configuration string: \"host:port\", with options after commas, for example \"redis:6379,password=${REDIS_PASSWORD},ssl=true\".";
                if (configuration.Trim().Length == 0)
                {
                    Error(Key, "must not be empty.", Fix + " Remove the key to count limits per replica.");
                    configuration = null;
                }
                else
                {
                    try
                    {
                        if (StackExchange.Redis.ConfigurationOptions.Parse(configuration).EndPoints.Count == 0)
                        {
                            Error(Key, "names no Redis server.", Fix);
                        }
                    }
                    catch (ArgumentException ex)
                    {
                        // "Keyword 'x' is not supported" / "Keyword 'x' requires…; the value provided was '…'": only the keyword is repeated.
                        System.Text.RegularExpressions.Match keyword = System.Text.RegularExpressions.Regex.Match(ex.Message, "Keyword '([^']{1,40})'");
                        Error(Key, keyword.Success ? $"has an unknown option or a bad value for option '{keyword.Groups[1].Value}'." : "is not a valid configuration string.", Fix);
                    }
                }
            }

            string prefix = merged["redis:keyPrefix"] ?? RedisSettings.DefaultKeyPrefix;
            if (prefix.Length is 0 or > 64 || prefix.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            {
                Error("redis:keyPrefix", "must be 1 to 64 characters without spaces.", $"write for example \"{RedisSettings.DefaultKeyPrefix}\" or \"mcp-gateway-staging:\".");
                prefix = RedisSettings.DefaultKeyPrefix;
            }

            return new RedisSettings { Configuration = configuration, KeyPrefix = prefix };
        }

        private SupervisionSettings ReadSupervision()
        {
            const int Hour = 3_600_000, Day = 86_400;
            var supervision = new SupervisionSettings
            {
                ReconnectDelay = TimeSpan.FromMilliseconds(Int("supervision:reconnectDelayMs", Milliseconds(SupervisionSettings.DefaultReconnectDelay), 1, Hour)),
                MaxReconnectDelay = TimeSpan.FromMilliseconds(Int("supervision:maxReconnectDelayMs", Milliseconds(SupervisionSettings.DefaultMaxReconnectDelay), 1, Hour)),
                CrashLoopFailures = Int("supervision:crashLoop:failures", SupervisionSettings.DefaultCrashLoopFailures, 1, 1_000_000),
                CrashLoopWindow = TimeSpan.FromSeconds(Int("supervision:crashLoop:windowSeconds", Seconds(SupervisionSettings.DefaultCrashLoopWindow), 1, Day)),
                CrashLoopRetry = TimeSpan.FromSeconds(Int("supervision:crashLoop:retrySeconds", Seconds(SupervisionSettings.DefaultCrashLoopRetry), 1, Day)),
            };
            if (supervision.MaxReconnectDelay < supervision.ReconnectDelay)
            {
                Error("supervision:maxReconnectDelayMs", "is less than supervision.reconnectDelayMs, the first delay.", "raise it, or lower reconnectDelayMs.");
            }

            return supervision;

            static int Milliseconds(TimeSpan value) => (int)value.TotalMilliseconds;

            static int Seconds(TimeSpan value) => (int)value.TotalSeconds;
        }

        private AuthenticationSettings ReadAuthentication(string? rulesFile)
        {
            Uri? resource = HttpUri("authentication:resource", "write the URL agents use to reach the gateway, for example \"https://gateway.example.com/mcp\".");
            if (resource is not null && resource.Fragment.Length > 0)
            {
                Error("authentication:resource", "must not have a fragment (RFC 8707).", "remove the '#...' part.");
            }

            var servers = new List<Uri>();
            foreach (string key in ListKeys("authentication:authorizationServers"))
            {
                if (HttpUri(key, "write the authorization server's issuer URL.") is { } server)
                {
                    servers.Add(server);
                }
            }

            ApiKeySettings? apiKeys = null;
            string? keysFile = FilePath("authentication:apiKeys:file");
            if (keysFile is not null)
            {
                apiKeys = new ApiKeySettings { File = keysFile, Explicit = true };
            }
            else
            {
                // Without a path in the settings, API keys are on when the keys file exists beside the settings (or the rules).
                string candidate = DefaultKeysFile(document?.File, rulesFile, environment.CurrentDirectory);
                if (environment.FileExists(candidate) || merged.GetSection("authentication:apiKeys").Exists() || HasFileSection("$.authentication.apiKeys"))
                {
                    apiKeys = new ApiKeySettings { File = candidate, Explicit = HasFileSection("$.authentication.apiKeys") };
                }
            }

            JwtSettings? jwt = merged.GetSection("authentication:jwt").Exists() || HasFileSection("$.authentication.jwt") ? ReadJwt(resource) : null;
            if (jwt is not null && servers.Count == 0 && (jwt.Authority ?? (Uri.TryCreate(jwt.Issuer, UriKind.Absolute, out Uri? issuer) ? issuer : null)) is { } defaultServer)
            {
                servers.Add(defaultServer);
            }

            return new AuthenticationSettings { Resource = resource, ApiKeys = apiKeys, Jwt = jwt, AuthorizationServers = servers };
        }

        private JwtSettings ReadJwt(Uri? resource)
        {
            Uri? authority = HttpUri("authentication:jwt:authority", "write the authorization server's issuer URL; its /.well-known/openid-configuration must be reachable.");
            string? issuer = Optional("authentication:jwt:issuer");
            Uri? jwksUri = HttpUri("authentication:jwt:jwksUri", "write the URL of the JWKS document.");
            string? jwksFile = FilePath("authentication:jwt:jwksFile");
            if (jwksFile is not null && !File.Exists(jwksFile))
            {
                Error("authentication:jwt:jwksFile", "the file does not exist.", "check the path (relative paths are relative to the settings file).");
            }

            if (authority is null && issuer is null)
            {
                Error("authentication:jwt", "names neither an 'authority' nor an 'issuer'.", "set \"authority\" to your authorization server (discovery), or \"issuer\" with \"jwksUri\" or \"jwksFile\".");
            }
            else if (authority is null && jwksUri is null && jwksFile is null)
            {
                Error("authentication:jwt", "has an 'issuer' but no signing keys.", "add \"jwksUri\" or \"jwksFile\", or use \"authority\" for discovery.");
            }

            var audiences = ListKeys("authentication:jwt:audiences").Select(k => merged[k]).OfType<string>().Where(a => a.Length > 0).ToList();
            if (audiences.Count == 0)
            {
                if (resource is null)
                {
                    Error("authentication:jwt", "tokens must name this gateway as their audience, but no audience is configured.", "set authentication.resource to the gateway's URL (for example \"https://gateway.example.com/mcp\"), or list authentication.jwt.audiences.");
                }
                else
                {
                    audiences.Add(resource.OriginalString);
                }
            }

            bool requireHttps = Bool("authentication:jwt:requireHttpsMetadata", true);
            Uri? metadata = authority ?? jwksUri;
            if (requireHttps && metadata is not null && metadata.Scheme != Uri.UriSchemeHttps)
            {
                Error(authority is not null ? "authentication:jwt:authority" : "authentication:jwt:jwksUri", "is not https, and signing keys must not come over plain HTTP.", "use https, or set \"requireHttpsMetadata\": false for a local test server.");
            }

            return new JwtSettings
            {
                Authority = authority,
                Issuer = issuer,
                JwksUri = jwksUri,
                JwksFile = jwksFile,
                Audiences = audiences,
                AgentClaim = Text("authentication:jwt:agentClaim", "sub", "write the claim that names the agent, for example \"sub\", \"client_id\" or \"azp\"."),
                Agents = StringMap("$.authentication.jwt.agents"),
                RequiredScopes = ListKeys("authentication:jwt:requiredScopes").Select(k => merged[k]).OfType<string>().Where(s => s.Length > 0).ToList(),
                RequireHttpsMetadata = requireHttps,
                ClockSkew = TimeSpan.FromSeconds(Int("authentication:jwt:clockSkewSeconds", 60, 0, 3600)),
                KeyRefresh = TimeSpan.FromSeconds(Int("authentication:jwt:keyRefreshSeconds", 30, 1, 24 * 3600)),
            };
        }

        private string? Optional(string key) => merged[key] is { Length: > 0 } value ? value : null;

        private string Text(string key, string fallback, string fix)
        {
            string? value = merged[key];
            if (value is null)
            {
                return fallback;
            }

            if (value.Trim().Length == 0)
            {
                Error(key, "must not be empty.", fix);
                return fallback;
            }

            return value;
        }

        private bool Bool(string key, bool fallback) => OptionalBool(key) ?? fallback;

        private bool? OptionalBool(string key)
        {
            string? value = merged[key];
            if (value is null)
            {
                return null;
            }

            if (bool.TryParse(value, out bool parsed))
            {
                return parsed;
            }

            Error(key, "expected true or false.", "write true or false.");
            return null;
        }

        private int Int(string key, int fallback, int min, int max) => (int)Long(key, fallback, min, max);

        private long Long(string key, long fallback, long min, long max)
        {
            string? value = merged[key];
            if (value is null)
            {
                return fallback;
            }

            if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long parsed) && parsed >= min && parsed <= max)
            {
                return parsed;
            }

            Error(key, "expected a whole number" + (max == long.MaxValue || max == int.MaxValue ? $" of at least {min}." : $" from {min} to {max}."), $"write a number such as {fallback}.");
            return fallback;
        }

        private string Choice(string key, string fallback, string[] allowed)
        {
            string? value = merged[key];
            if (value is null)
            {
                return fallback;
            }

            string? match = allowed.FirstOrDefault(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase));
            if (match is null)
            {
                Error(key, $"must be one of {string.Join(", ", allowed)}.", $"write \"{fallback}\" or another of those values.");
                return fallback;
            }

            return match;
        }

        private string? Listen(string key)
        {
            string? value = Optional(key);
            if (value is not null && !ListenAddress.TryParse(value, out _))
            {
                Error(key, "is not PORT or ADDRESS:PORT.", ListenAddress.Fix);
                return null;
            }

            return value;
        }

        private string Separator(string key)
        {
            string? value = merged[key];
            if (value is null)
            {
                return "_";
            }

            if (value.Length is < 1 or > 8 || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                Error(key, "must be 1 to 8 of letters, digits, '_' or '-'.", "use the default \"_\" or for example \"__\".");
                return "_";
            }

            return value;
        }

        private string HeaderName(string key, string fallback)
        {
            string? value = merged[key];
            if (value is null)
            {
                return fallback;
            }

            // An HTTP field name is a token (RFC 9110): visible ASCII without separators.
            if (value.Length == 0 || !value.All(c => c > ' ' && c < 127 && "\"(),/:;<=>?@[\\]{}".IndexOf(c, StringComparison.Ordinal) < 0))
            {
                Error(key, "is not a valid HTTP header name.", "write a name such as \"X-Agent-Id\".");
                return fallback;
            }

            return value;
        }

        private Uri? HttpUri(string key, string fix)
        {
            string? value = Optional(key);
            if (value is null)
            {
                return null;
            }

            if (Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp))
            {
                return uri;
            }

            Error(key, "is not an absolute http:// or https:// URL.", fix);
            return null;
        }

        private IReadOnlyList<string> Origins(string key)
        {
            var origins = new List<string>();
            foreach (string itemKey in ListKeys(key))
            {
                string? value = merged[itemKey];
                if (value is null)
                {
                    continue;
                }

                if (!Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) || uri.AbsolutePath != "/" || uri.Query.Length > 0 || value.EndsWith('/'))
                {
                    Error(itemKey, "is not an origin.", "write scheme, host and port only, for example \"https://admin.example.com\" or \"http://localhost:5173\".");
                    continue;
                }

                origins.Add(value);
            }

            return origins;
        }

        private string? FilePath(string key)
        {
            string? value = Optional(key);
            if (value is null)
            {
                return null;
            }

            // A path written in the settings file is relative to that file; one from a variable or flag, to the working folder.
            string baseFolder = SourceOf(key) == Layer.File && _folder is not null ? _folder : environment.CurrentDirectory;
            return Path.GetFullPath(value, baseFolder);
        }

        /// <summary>The session keys in order; an empty entry (an unset <c>${VAR:-}</c>) is skipped, so a second key can be optional.</summary>
        private IReadOnlyList<SessionKey> SessionKeys(string key)
        {
            var keys = new List<SessionKey>();
            foreach (string itemKey in ListKeys(key))
            {
                if (merged[itemKey] is not { } value || value.Trim().Length == 0)
                {
                    continue;
                }

                if (SessionKey.Parse(value) is not { } parsed)
                {
                    // The value is a secret, or meant to be one: never echoed.
                    Error(itemKey, "is not a session key: 32 bytes written in base64.", "make one with 'mcp-gateway keys session-key' (or 'openssl rand -base64 32') and pass it through a variable, for example \"${MCP_GATEWAY_SESSION_KEY}\".");
                    continue;
                }

                keys.Add(parsed);
            }

            return keys;
        }

        private string? AuditFile(string key) => Optional(key) == "-" ? "-" : FilePath(key);

        private IEnumerable<string> ListKeys(string key) =>
            merged.GetSection(key).GetChildren()
                .Select(c => (Index: int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : int.MaxValue, c.Path))
                .OrderBy(c => c.Index)
                .Select(c => c.Path);

        private bool HasFileSection(string path) => document?.Root is { } root && Node(root, path) is JsonObject;

        private static JsonNode? Node(JsonNode root, string path)
        {
            JsonNode? node = root;
            foreach (string segment in path.Split('.').Skip(1))
            {
                node = node is JsonObject obj ? obj[segment] : null;
            }

            return node;
        }

        private IReadOnlyDictionary<string, string>? StringMap(string path)
        {
            if (document?.Root is not { } root || Node(root, path) is not JsonObject obj)
            {
                return null;
            }

            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach ((string key, JsonNode? value) in obj)
            {
                if (value is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() is { Length: > 0 } text)
                {
                    map[key] = text;
                }
                else
                {
                    document.Diagnostics.Error(JsonPath.Property(path, key), $"expected a non-empty string but found {JsonNodeReader.Describe(value)}.", "write the agent name as a string.");
                    diagnostics.Add(document.Diagnostics.Items[^1]);
                }
            }

            return map;
        }

        private IReadOnlyDictionary<string, int> CountMap(string path)
        {
            var map = new Dictionary<string, int>(StringComparer.Ordinal);
            if (document?.Root is not { } root || Node(root, path) is not JsonObject obj)
            {
                return map;
            }

            foreach ((string key, JsonNode? value) in obj)
            {
                if (Count(value, JsonPath.Property(path, key)) is int count)
                {
                    map[key] = count;
                }
            }

            return map;
        }

        private IReadOnlyList<ToolRateLimit> ToolLimits(string path)
        {
            var limits = new List<ToolRateLimit>();
            if (document?.Root is not { } root || Node(root, path) is not JsonObject servers)
            {
                return limits;
            }

            foreach ((string server, JsonNode? tools) in servers)
            {
                if (tools is not JsonObject perTool)
                {
                    continue;
                }

                foreach ((string tool, JsonNode? value) in perTool)
                {
                    string itemPath = JsonPath.Property(JsonPath.Property(path, server), tool);
                    if (Count(value, itemPath) is int count)
                    {
                        limits.Add(new ToolRateLimit(server, tool, count, itemPath));
                    }
                }
            }

            return limits;
        }

        private int? Count(JsonNode? value, string path)
        {
            if (value is JsonValue v && (v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out long n) ||
                v.GetValueKind() == JsonValueKind.String && long.TryParse(v.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out n)) && n is >= 1 and <= int.MaxValue)
            {
                return (int)n;
            }

            document!.Diagnostics.Error(path, $"expected a whole number of calls (at least 1) but found {JsonNodeReader.Describe(value)}.", "write for example 60.");
            diagnostics.Add(document.Diagnostics.Items[^1]);
            return null;
        }

        private enum Layer
        {
            File,
            Environment,
            CommandLine,
        }

        private Layer SourceOf(string key)
        {
            if (overrides.Any(o => string.Equals(o.Key, key, StringComparison.OrdinalIgnoreCase)))
            {
                return Layer.CommandLine;
            }

            // The providers are file, environment, command line, in that order: the environment is the middle one.
            IConfigurationProvider[] providers = [.. merged.Providers];
            return providers.Length > 2 && providers[1..^1].Any(p => p.TryGet(key, out _)) ? Layer.Environment : Layer.File;
        }

        private void Error(string key, string message, string fix)
        {
            switch (SourceOf(key))
            {
                case Layer.CommandLine:
                    string flag = overrides.Last(o => string.Equals(o.Key, key, StringComparison.OrdinalIgnoreCase)).Flag;
                    diagnostics.Add(new ConfigDiagnostic(DiagnosticSeverity.Error, "(command line)", flag, message, fix));
                    break;
                case Layer.Environment:
                    diagnostics.Add(new ConfigDiagnostic(DiagnosticSeverity.Error, "(environment)", VariableName(key), message, fix));
                    break;
                default:
                    string path = filePaths.TryGetValue(key, out string? known) ? known : ToJsonPath(key);
                    (int Line, int Column)? position = document?.Positions.Find(path);
                    diagnostics.Add(new ConfigDiagnostic(DiagnosticSeverity.Error, document?.File ?? "(settings)", path, message, fix, position?.Line, position?.Column));
                    break;
            }
        }

        private static string ToJsonPath(string key) =>
            key.Split(':').Aggregate(JsonPath.Root, (path, segment) => int.TryParse(segment, out int index) ? JsonPath.Index(path, index) : JsonPath.Property(path, segment));
    }
}
