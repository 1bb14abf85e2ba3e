using System.Text.Json.Nodes;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>The gateway's copy of a server's tools, prompts, resources and templates, refreshed when the server says they changed.</summary>
internal sealed partial class DownstreamServer
{
    private const int MaxPages = 1000;
    private static readonly ListKind[] s_allLists = [ListKind.Tools, ListKind.Prompts, ListKind.Resources, ListKind.ResourceTemplates];

    /// <summary>Sets the tool list without a connection: for benchmarks and tests of the catalog at scale.</summary>
    internal void SetLastKnownTools(IReadOnlyList<DownstreamTool> tools) => _tools = tools;

    private void RefreshInBackground(ListKind kind)
    {
        if (_client is not { } client)
        {
            return;
        }

        ListKind[] kinds = kind == ListKind.Resources ? [ListKind.Resources, ListKind.ResourceTemplates] : [kind];
        _ = Task.Run(async () =>
        {
            try
            {
                await LoadListsAsync(client, kinds, _stopping.Token);
                Changed?.Invoke(this);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRefreshFailed(_logger, Name, kind, AuditRedaction.Excerpt(ex.Message));
            }
            catch (OperationCanceledException)
            {
                // Shutting down.
            }
        });
    }

    private async Task LoadListsAsync(McpClient client, ListKind[] kinds, CancellationToken cancellationToken)
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
                if (kind == ListKind.Tools)
                {
                    var tools = new List<DownstreamTool>();
                    var seen = new HashSet<string>(StringComparer.Ordinal);
                    if (offered)
                    {
                        await ReadPagesAsync(client, kind, result => ToolListReader.Read(result, tools, seen, problems), cancellationToken);
                    }

                    _tools = tools;
                }
                else
                {
                    var items = new List<DownstreamItem>();
                    var seen = new HashSet<string>(StringComparer.Ordinal);
                    if (offered)
                    {
                        await ReadPagesAsync(client, kind, result => ItemListReader.Read(kind, result, items, seen, problems), cancellationToken);
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

                foreach (string problem in problems)
                {
                    LogItemSkipped(_logger, Name, kind, problem);
                }
            }
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private static async Task ReadPagesAsync(McpClient client, ListKind kind, Action<JsonNode?> read, CancellationToken cancellationToken)
    {
        string method = ItemListReader.Describe(kind).Method;
        string? cursor = null;
        int pages = 0;
        do
        {
            JsonObject? parameters = cursor is null ? null : new JsonObject { ["cursor"] = cursor };
            JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }, cancellationToken);
            read(response.Result);
            cursor = response.Result?["nextCursor"] is JsonValue next && next.TryGetValue(out string? text) ? text : null;
        }
        while (cursor is not null && ++pages < MaxPages);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}': skipped an entry of its {Kind}: {Problem}.")]
    private static partial void LogItemSkipped(ILogger logger, string server, ListKind kind, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}': could not refresh its {Kind}: {Error}")]
    private static partial void LogRefreshFailed(ILogger logger, string server, ListKind kind, string error);
}
