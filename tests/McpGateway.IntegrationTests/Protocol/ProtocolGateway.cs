using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// An in-process gateway for one test class (or collection) of the protocol tests, and the agents its tests connect.
/// Agent <c>tester</c> may use every server and is the default agent (stdio agents act as it); <c>outsider</c> may use
/// only the server named <see cref="OutsiderServer"/>.
/// </summary>
public abstract class ProtocolGateway : IAsyncLifetime
{
    public const string Tester = "tester";
    public const string Outsider = "outsider";

    internal InProcessGateway Gateway { get; private set; } = null!;

    internal ProtocolAgents Agents { get; private set; } = null!;

    /// <summary>The servers file of this gateway.</summary>
    protected abstract string Servers { get; }

    /// <summary>The one server <c>outsider</c> may use (it need not exist).</summary>
    protected virtual string OutsiderServer => "conf";

    protected virtual bool Stateless => false;

    /// <summary>When set, a second gateway started with <c>--stateless</c> serves this servers file.</summary>
    protected virtual string? StatelessServers => null;

    /// <summary>The <c>--stateless</c> gateway, when <see cref="StatelessServers"/> is set.</summary>
    internal InProcessGateway StatelessGateway { get; private set; } = null!;

    internal ProtocolAgents StatelessAgents { get; private set; } = null!;

    protected string Rules => new JsonObject
    {
        ["agents"] = new JsonObject
        {
            [Tester] = new JsonObject { ["allow"] = new JsonObject { ["servers"] = new JsonArray("*") } },
            [Outsider] = new JsonObject { ["allow"] = new JsonObject { ["servers"] = new JsonArray(OutsiderServer) } },
        },
        ["defaults"] = new JsonObject { ["default_agent"] = Tester },
    }.ToJsonString();

    public virtual async ValueTask InitializeAsync()
    {
        Task<InProcessGateway>? stateless = StatelessServers is null
            ? null
            : InProcessGateway.StartAsync(StatelessServers, Rules, stateless: true, cancellationToken: TestContext.Current.CancellationToken);
        try
        {
            Gateway = await InProcessGateway.StartAsync(Servers, Rules, stateless: Stateless, cancellationToken: TestContext.Current.CancellationToken);
            Agents = new ProtocolAgents(Gateway);
        }
        finally
        {
            if (stateless is not null)
            {
                StatelessGateway = await stateless;
                StatelessAgents = new ProtocolAgents(StatelessGateway);
            }
        }
    }

    /// <summary>A new agent as <c>tester</c> (over HTTP by header; over stdio as the default agent).</summary>
    internal Task<Agent> ConnectAsync(AgentLink link, McpClientHandlers? handlers = null) =>
        Agents.ConnectAsync(link, Tester, handlers, TestContext.Current.CancellationToken);

    public virtual async ValueTask DisposeAsync()
    {
        if (StatelessAgents is not null)
        {
            await StatelessAgents.DisposeAsync();
        }

        if (StatelessGateway is not null)
        {
            await StatelessGateway.DisposeAsync();
        }

        if (Agents is not null)
        {
            await Agents.DisposeAsync();
        }

        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        // Whatever the class's tests did, nothing may have reached either host unhandled (a failure here names the class).
        IReadOnlyList<string> unhandled = [.. Gateway?.Logs.Unhandled ?? [], .. StatelessGateway?.Logs.Unhandled ?? []];
        if (unhandled.Count > 0)
        {
            throw new InvalidOperationException($"{GetType().Name}: reached the host unhandled:{Environment.NewLine}{string.Join(Environment.NewLine, unhandled)}");
        }
    }
}

/// <summary>Servers-file entries the protocol tests use besides <see cref="TestServers"/>.</summary>
internal static class ProtocolServers
{
    /// <summary>The conformance fixture over stdio: a C# SDK server that negotiates 2026-07-28 with the gateway.</summary>
    public static JsonObject Conformance() => TestServers.Fixture("conformance");

    /// <summary>probe-server.cjs: reports cancellations it saw, and asks for roots on every call.</summary>
    public static JsonObject Probe() => new()
    {
        ["command"] = "node",
        ["args"] = new JsonArray(ProbeScript, RepoPaths.NodeModules),
    };

    public static string ProbeScript => Path.Combine(RepoPaths.Root, "tests", "McpGateway.IntegrationTests", "Protocol", "probe-server.cjs");

    /// <summary>
    /// A client straight to the conformance fixture; with no protocol version it speaks 2026-07-28, whose
    /// server/discover probe is bounded only by the hang guard (<see cref="McpClientExtensions.Patient"/>): on a busy
    /// machine the cold fixture can miss the SDK's 5 s, and a client that named 2026-07-28 would then give up.
    /// </summary>
    public static Task<McpClient> DirectConformanceAsync(string? protocolVersion, CancellationToken cancellationToken)
    {
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "conf",
            Command = RepoPaths.FixtureServer,
            Arguments = ["conformance"],
        });
        var options = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "protocol-test-direct", Version = "1.0" },
            ProtocolVersion = protocolVersion ?? ProtocolAgents.Modern,
        }.Patient();
        return McpClient.CreateAsync(transport, options, cancellationToken: cancellationToken);
    }

    /// <summary>Sends a raw request straight to a server and returns the raw result.</summary>
    public static async Task<JsonObject> RequestAsync(this McpClient client, string method, JsonObject? parameters, CancellationToken cancellationToken) =>
        (JsonObject)(await client.SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }, cancellationToken)).Result!;
}

/// <summary>JSON helpers for comparing what the gateway answered with what a server answers directly.</summary>
internal static class ProtocolJson
{
    private const string ReservedMetaPrefix = "io.modelcontextprotocol/";

    /// <summary>
    /// A copy without what belongs to the agent's hop of a 2026-07-28 exchange (<c>resultType</c>, the caching hints
    /// <c>ttlMs</c> and <c>cacheScope</c>, and reserved <c>_meta</c> keys); era adaptation has tests of its own.
    /// </summary>
    public static JsonObject WithoutEra(JsonObject result)
    {
        var copy = (JsonObject)result.DeepClone();
        copy.Remove("resultType");
        copy.Remove("ttlMs");
        copy.Remove("cacheScope");
        if (copy["_meta"] is JsonObject meta)
        {
            foreach (string key in meta.Select(kv => kv.Key).Where(k => k.StartsWith(ReservedMetaPrefix, StringComparison.Ordinal)).ToList())
            {
                meta.Remove(key);
            }

            if (meta.Count == 0)
            {
                copy.Remove("_meta");
            }
        }

        return copy;
    }

    /// <summary>The reserved (<c>io.modelcontextprotocol/</c>) keys of a result's <c>_meta</c>.</summary>
    public static IEnumerable<string> ReservedMetaKeys(JsonObject result) =>
        result["_meta"] is JsonObject meta ? meta.Select(kv => kv.Key).Where(k => k.StartsWith(ReservedMetaPrefix, StringComparison.Ordinal)) : [];

    /// <summary>A copy of <paramref name="items"/> with <paramref name="field"/> of each rewritten.</summary>
    public static JsonArray Renamed(JsonArray items, string field, Func<string, string> rename) =>
        [.. items.Select(item =>
        {
            var copy = (JsonObject)item!.DeepClone();
            copy[field] = rename(copy[field]!.GetValue<string>());
            return (JsonNode?)copy;
        })];

    public static JsonArray Concat(params JsonArray[] arrays) => [.. arrays.SelectMany(a => a.Select(n => n?.DeepClone()))];

    /// <summary>Asserts how many notifications (as their params) there are; on failure shows them all.</summary>
    public static void AssertCount(int expected, IReadOnlyCollection<JsonObject> notifications, string what) =>
        Assert.True(notifications.Count == expected, $"Expected {expected} {what}, got {notifications.Count}: {string.Join(" | ", notifications.Select(n => n.ToJsonString()))}");

    /// <summary>Fails with the whole result when it is an error result.</summary>
    public static void AssertSucceeded(JsonObject result) =>
        Assert.False(result["isError"]?.GetValue<bool>() == true, "An error result: " + result.ToJsonString());

    public static string Text(this JsonObject result) => result["content"]![0]!["text"]!.GetValue<string>();
}
