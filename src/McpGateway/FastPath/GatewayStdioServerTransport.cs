using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using McpGateway.Diagnostics;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Identity;
using Microsoft.Extensions.Logging;

namespace McpGateway.FastPath;

/// <summary>
/// The stdio face of the gateway: the SDK server reads and writes its messages through it, and simple tool calls are
/// answered on the fast path without it.
/// </summary>
internal sealed class GatewayStdioServerTransport : JsonLineTransport
{
    private readonly GatewaySession _session;
    private readonly FastForwarder _forwarder;
    private readonly GatewayStateProvider _stateProvider;
    private readonly CallerResolver _callers;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _fastCalls = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _closing = new();
    private int _disposed;

    public GatewayStdioServerTransport(
        Stream input,
        Stream output,
        GatewaySession session,
        FastForwarder forwarder,
        GatewayStateProvider stateProvider,
        CallerResolver callers,
        TimeProvider time,
        ILoggerFactory? loggerFactory)
        : base("stdio", input, output, loggerFactory)
    {
        _session = session;
        _forwarder = forwarder;
        _stateProvider = stateProvider;
        _callers = callers;
        _time = time;
        Start();
    }

    protected override bool TryTakeLine(ReadOnlySpan<byte> line)
    {
        byte[]? checkedCopy = null;
        if (line.IndexOf((byte)'{') >= 0 && RequestValidation.FindProblem(checkedCopy = line.ToArray()) is { } problem)
        {
            // Refused here, before the SDK or the fast path reads a message whose keys could be read two ways.
            Enqueue(RequestValidation.ErrorResponse(line, problem));
            return true;
        }

        if (checkedCopy is not null && RequestValidation.InitializeProblem(checkedCopy) is { } badInitialize)
        {
            Enqueue(RequestValidation.ErrorResponse(line, badInitialize, ModelContextProtocol.McpErrorCode.InvalidParams));
            return true;
        }

        if (!_fastCalls.IsEmpty && line.IndexOf("\"notifications/cancelled\""u8) >= 0)
        {
            CancelFastCall(line);
            return false;
        }

        if (line.IndexOf("\"tools/call\""u8) < 0)
        {
            return false;
        }

        byte[] copy = checkedCopy ?? line.ToArray();
        if (FastToolCall.TryParse(copy, _forwarder.AgentArgument) is not { } call)
        {
            return false;
        }

        // The fast path takes only calls without an identity argument: the process's fixed agent or the session's decide.
        Caller caller = _callers.Resolve(IdentityClaims.None, _session.Identity, _stateProvider.Current.Policy);
        if (caller.IsRefused || _session.Server is not { } server ||
            _forwarder.TryPrepare(call, caller, new SessionUpstream(server, _session), _session, null, _time.GetTimestamp(), copy.Length, GatewayTelemetry.Transports.Pipe) is not { } prepared)
        {
            return false;
        }

        _ = RunFastCallAsync(prepared, Encoding.UTF8.GetString(call.Id.Span));
        return true;
    }

    private async Task RunFastCallAsync(FastForwarder.Prepared call, string id)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
        _fastCalls[id] = cancel;
        try
        {
            Enqueue(await call.RunAsync(cancel.Token));
        }
        catch (OperationCanceledException)
        {
            // Cancelled by the agent: JSON-RPC sends no response to a cancelled request.
        }
        finally
        {
            _fastCalls.TryRemove(id, out _);
        }
    }

    private void CancelFastCall(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("requestId"u8) && reader.Read())
                {
                    string id = Encoding.UTF8.GetString(line.Slice((int)reader.TokenStartIndex, (int)(reader.BytesConsumed - reader.TokenStartIndex)));
                    if (_fastCalls.TryGetValue(id, out CancellationTokenSource? cancel))
                    {
                        cancel.Cancel();
                    }

                    return;
                }
            }
        }
        catch (JsonException)
        {
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _closing.CancelAsync();
        await StopWritingAsync(TimeSpan.FromSeconds(1));
        await StopReadingAsync();
        SetDisconnected();
    }
}
