using System.Text.Json.Nodes;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// The gateway's copy of one server's tools, prompts, resources and templates: loaded when it connects, loaded again
/// when it says one changed, and kept while it is down so exposed names stay stable. Each entry is judged on its own
/// (one malformed tool is skipped with a reason, not the whole list).
/// </summary>
internal sealed partial class DownstreamLists(string server, ILogger logger, TimeProvider time)
{
    private const int MaxPages = 1000;
    private static readonly ListKind[] s_all = [ListKind.Tools, ListKind.Prompts, ListKind.Resources, ListKind.ResourceTemplates];

    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private readonly Freshness?[] _freshness = new Freshness?[s_all.Length];
    private volatile IReadOnlyList<DownstreamTool> _tools = [];
    private volatile IReadOnlyList<DownstreamItem> _prompts = [];
    private volatile IReadOnlyList<DownstreamItem> _resources = [];
    private volatile IReadOnlyList<DownstreamItem> _resourceTemplates = [];

    public IReadOnlyList<DownstreamTool> Tools => _tools;

    public IReadOnlyList<DownstreamItem> Prompts => _prompts;

    public IReadOnlyList<DownstreamItem> Resources => _resources;

    public IReadOnlyList<DownstreamItem> ResourceTemplates => _resourceTemplates;

    /// <summary>
    /// How many more milliseconds the server said the gateway's copy of a list stays fresh (its 2026-07-28 caching hint,
    /// <c>ttlMs</c>, less the time since the gateway fetched it; the least of its pages); null when it gave no hint.
    /// </summary>
    public long? FreshForMs(ListKind kind) =>
        Volatile.Read(ref _freshness[(int)kind]) is { } fresh
            ? Math.Max(0, fresh.TtlMs - (long)time.GetElapsedTime(fresh.FetchedAt).TotalMilliseconds)
            : null;

    /// <summary>Raised after a list was loaded again because the server said it changed.</summary>
    public event Action? Refreshed;

    /// <summary>Sets the tool list without a connection: for benchmarks and tests of the catalog at scale.</summary>
    internal void SetTools(IReadOnlyList<DownstreamTool> tools) => _tools = tools;

    /// <summary>Loads every list the server offers (part of connecting, bounded by the start timeout).</summary>
    public Task LoadAllAsync(McpClient client, CancellationToken cancellationToken) => LoadAsync(client, s_all, cancellationToken);

    /// <summary>The server said a list changed: load it again in the background, then tell <see cref="Refreshed"/>.</summary>
    public void RefreshInBackground(DownstreamConnection? connection, ListKind kind)
    {
        if (connection is null || connection.IsLost)
        {
            return;
        }

        ListKind[] kinds = kind == ListKind.Resources ? [ListKind.Resources, ListKind.ResourceTemplates] : [kind];
        _ = Task.Run(async () =>
        {
            try
            {
                await LoadAsync(connection.Client, kinds, connection.LostToken);
                Refreshed?.Invoke();
            }
            catch (OperationCanceledException)
            {
                // The connection went away; the next one loads everything again.
            }
            catch (Exception ex)
            {
                LogRefreshFailed(logger, server, kind, AuditRedaction.Excerpt(ex.Message));
            }
        });
    }

    private async Task LoadAsync(McpClient client, ListKind[] kinds, CancellationToken cancellationToken)
    {
        await _refreshLock.WaitAsync(cancellationToken);
        try
        {
            ServerCapabilities capabilities = client.ServerCapabilities;
            foreach (ListKind kind in kinds)
            {
                bool offered = kind switch
                {
                    ListKind.Tools => capabilities.Tools is not null,
                    ListKind.Prompts => capabilities.Prompts is not null,
                    _ => capabilities.Resources is not null,
                };
                var problems = new List<string>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                Freshness? freshness = null;
                if (kind == ListKind.Tools)
                {
                    var tools = new List<DownstreamTool>();
                    if (offered)
                    {
                        freshness = await ReadPagesAsync(client, kind, result => ToolListReader.Read(result, tools, seen, problems), cancellationToken);
                    }

                    _tools = tools;
                }
                else
                {
                    var items = new List<DownstreamItem>();
                    if (offered)
                    {
                        freshness = await ReadPagesAsync(client, kind, result => ItemListReader.Read(kind, result, items, seen, problems), cancellationToken);
                    }

                    switch (kind)
                    {
                        case ListKind.Prompts:
                            _prompts = items;
                            break;
                        case ListKind.Resources:
                            _resources = items;
                            break;
                        default:
                            _resourceTemplates = items;
                            break;
                    }
                }

                Volatile.Write(ref _freshness[(int)kind], freshness);
                foreach (string problem in problems)
                {
                    LogItemSkipped(logger, server, kind, problem);
                }
            }
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    /// <summary>Reads every page; returns the least caching hint of the pages, or null when a page had none.</summary>
    private async Task<Freshness?> ReadPagesAsync(McpClient client, ListKind kind, Action<JsonNode?> read, CancellationToken cancellationToken)
    {
        string method = ItemListReader.Describe(kind).Method;
        string? cursor = null;
        int pages = 0;
        long fetchedAt = time.GetTimestamp();
        long? ttlMs = long.MaxValue;
        do
        {
            JsonObject? parameters = cursor is null ? null : new JsonObject { ["cursor"] = cursor };
            JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }, cancellationToken);
            read(response.Result);
            ttlMs = TtlOf(response.Result) is long page && ttlMs is long least ? Math.Min(least, page) : null;
            cursor = response.Result?["nextCursor"] is JsonValue next && next.TryGetValue(out string? text) ? text : null;
        }
        while (cursor is not null && ++pages < MaxPages);

        return ttlMs is long ttl ? new Freshness(fetchedAt, ttl) : null;
    }

    /// <summary>A page's <c>ttlMs</c>: a negative hint counts as 0 (as the specification tells clients to read it).</summary>
    private static long? TtlOf(JsonNode? result) =>
        result?["ttlMs"] is JsonValue ttl && ttl.GetValueKind() == System.Text.Json.JsonValueKind.Number && ttl.TryGetValue(out double ms)
            ? (long)Math.Clamp(ms, 0, long.MaxValue)
            : null;

    /// <summary>When a list was fetched (a <see cref="TimeProvider"/> timestamp), and for how long the server said it stays fresh.</summary>
    private sealed record Freshness(long FetchedAt, long TtlMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}': skipped an entry of its {Kind}: {Problem}.")]
    private static partial void LogItemSkipped(ILogger logger, string server, ListKind kind, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}': could not refresh its {Kind}: {Error}")]
    private static partial void LogRefreshFailed(ILogger logger, string server, ListKind kind, string error);
}
