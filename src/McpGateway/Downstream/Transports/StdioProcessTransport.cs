using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using McpGateway.Configuration;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// Starts a stdio MCP server as a child process (in a process group of its own, see <see cref="ChildProcesses"/>)
/// and connects to it, like the SDK's <c>StdioClientTransport</c> (command, arguments, environment, working
/// directory, stderr passed to the log), and besides lets the gateway send a request as raw bytes and get the raw
/// response line back (the fast path).
/// </summary>
internal sealed class StdioProcessClientTransport(ServerConfig config, long maxMessageBytes, TimeSpan stopGrace, Action<string> stderrLine, ILoggerFactory loggerFactory) : IClientTransport
{
    public string Name => config.Name;

    /// <summary>The connection made by the last <see cref="ConnectAsync"/>, for the raw fast path.</summary>
    public StdioProcessTransport? Connection { get; private set; }

    public Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(config.Command!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (string argument in config.Args)
        {
            start.ArgumentList.Add(argument);
        }

        if (config.WorkingDirectory is not null)
        {
            start.WorkingDirectory = config.WorkingDirectory;
        }

        foreach ((string key, string value) in config.Env)
        {
            start.Environment[key] = value;
        }

        ILogger logger = loggerFactory.CreateLogger<StdioProcessTransport>();
        Process process = ChildProcesses.Start(start, logger);
        var connection = new StdioProcessTransport(config.Name, process, maxMessageBytes, stopGrace, stderrLine, loggerFactory);
        Connection = connection;
        return Task.FromResult<ITransport>(connection);
    }
}

/// <summary>
/// The connection to one child process (see <see cref="StdioProcessClientTransport"/>). It is over the moment the
/// process exits or its output ends, whichever comes first (a server's own child can keep the output open after the
/// server died): every raw request in flight fails at once, and so does any sent after.
/// </summary>
internal sealed partial class StdioProcessTransport : JsonLineTransport
{
    private const string RawIdPrefix = "mcpgw:";
    private const int StderrTailLines = 20;
    private const int MaxStderrLineChars = 4096;
    private static readonly TimeSpan s_exitGrace = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan s_outputEndedGrace = TimeSpan.FromSeconds(2);
    private static long s_nextRawId;

    private readonly Process _process;
    private readonly TimeSpan _stopGrace;
    private readonly ILogger _logger;
    private readonly Action<string> _stderrLine;
    private readonly ConcurrentDictionary<string, RawRequest> _raw = new(StringComparer.Ordinal);
    private readonly Queue<string> _stderrTail = new();
    private readonly Task _stderr;
    private volatile string? _closed;
    private int _disconnected;
    private int _disposed;

    public StdioProcessTransport(string name, Process process, long maxMessageBytes, TimeSpan stopGrace, Action<string> stderrLine, ILoggerFactory loggerFactory)
        : base(name, process.StandardOutput.BaseStream, process.StandardInput.BaseStream, loggerFactory, maxMessageBytes)
    {
        _process = process;
        ProcessId = process.Id;
        _stopGrace = stopGrace;
        _stderrLine = stderrLine;
        _logger = loggerFactory.CreateLogger<StdioProcessTransport>();
        _stderr = Task.Run(ReadStandardErrorAsync);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => _ = CloseSoonAsync();
        Start();
        if (process.HasExited)
        {
            Close(DescribeExit());
        }
    }

    /// <summary>Kept from the start: a close on another thread may run while <see cref="DisposeAsync"/> disposes the process.</summary>
    public int ProcessId { get; }

    /// <summary>Why the connection is over, once it is; null while it lives.</summary>
    public string? ClosedReason => _closed;

    protected override string EndedReason => _closed ?? (HasExited() ? DescribeExit() : base.EndedReason);

    /// <summary>The last lines the server wrote to stderr (for status and for the reason a connection ended).</summary>
    public IReadOnlyList<string> StandardErrorTail
    {
        get
        {
            lock (_stderrTail)
            {
                return [.. _stderrTail];
            }
        }
    }

    /// <summary>
    /// Sends a request built by <paramref name="build"/> (given the JSON-encoded id to put in it) and returns the raw
    /// response line. Cancelling sends <c>notifications/cancelled</c> for it, as the SDK does for its own requests.
    /// Fails at once, with <see cref="IOException"/>, when the connection is or becomes over.
    /// </summary>
    public async Task<byte[]> RequestRawAsync(Func<string, byte[]> build, CancellationToken cancellationToken)
    {
        string id = RawIdPrefix + Interlocked.Increment(ref s_nextRawId).ToString(CultureInfo.InvariantCulture);
        var answer = new RawRequest(PassedOn);
        _raw[id] = answer;

        // Checked after registering, so a close that raced with this request cannot leave it waiting: either the
        // close saw it registered and failed it, or this sees the close.
        if (_closed is { } closed)
        {
            _raw.TryRemove(id, out _);
            throw new IOException(closed);
        }

        Enqueue(build("\"" + id + "\""));
        using CancellationTokenRegistration cancel = cancellationToken.Register(() =>
        {
            if (_raw.TryRemove(id, out RawRequest? pending))
            {
                Enqueue(JsonSerializer.SerializeToUtf8Bytes(
                    new JsonRpcNotification { Method = NotificationMethods.CancelledNotification, Params = new System.Text.Json.Nodes.JsonObject { ["requestId"] = id, ["reason"] = "The agent cancelled the request." } },
                    McpJsonUtilities.ProtocolOptions.GetTypeInfo(typeof(JsonRpcMessage))));
                pending.TrySetCanceled(cancellationToken);
            }
        });
        return await answer.Task;
    }

    /// <summary>A raw request in flight, and how many messages had been passed to the SDK when it was sent.</summary>
    private sealed class RawRequest(long passedOnAtSend) : TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public long PassedOnAtSend { get; } = passedOnAtSend;
    }

    protected override bool TryTakeLine(ReadOnlySpan<byte> line)
    {
        // Only responses to raw requests carry an id with this prefix; everything else goes to the SDK untouched.
        if (_raw.IsEmpty || line.IndexOf("\"mcpgw:"u8) < 0 || !TryReadId(line, out string? id) || !_raw.TryRemove(id, out RawRequest? answer))
        {
            return false;
        }

        byte[] reply = line.ToArray();
        if (PassedOn == answer.PassedOnAtSend)
        {
            answer.TrySetResult(reply);
        }
        else
        {
            // The server sent other messages (log messages, progress, requests) while this call ran: they are handled
            // in order by the gateway's reader, and the reply must not overtake them, or the call would end before its
            // log messages are routed to its agent.
            RunInOrder(() => answer.TrySetResult(reply));
        }

        return true;
    }

    /// <summary>
    /// A reply too large to take: whoever waits for it gets an error saying so (a raw request directly, an SDK request
    /// through an error response in its place). A notification is dropped, and a request of the server's own is
    /// answered with an error; a message that cannot be matched to anything ends the connection, which is restarted,
    /// rather than leave a caller waiting for its timeout.
    /// </summary>
    protected override void OnOversizedLine(ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail, long length)
    {
        string message = $"The reply of server '{Name}' was {length.ToString(CultureInfo.InvariantCulture)} bytes, more than its limit of {MaxLineBytes.ToString(CultureInfo.InvariantCulture)} (maxMessageBytes); it was dropped.";
        OversizedMessage skipped = OversizedMessageId.Read(head, tail);
        switch (skipped.Kind)
        {
            case OversizedKind.Notification:
                // Nobody waits for it: dropped (and logged), the connection kept.
                return;
            case OversizedKind.Request:
                // The server's own request (sampling, say): the server is told, so it waits for nothing.
                _ = SendMessageAsync(new JsonRpcError
                {
                    Id = skipped.Id!.Value,
                    Error = new JsonRpcErrorDetail { Code = (int)McpErrorCode.InternalError, Message = $"The gateway dropped this request of {length.ToString(CultureInfo.InvariantCulture)} bytes: its limit is {MaxLineBytes.ToString(CultureInfo.InvariantCulture)} bytes (maxMessageBytes)." },
                });
                return;
            case OversizedKind.Unknown:
                Close($"it sent a message of {length} bytes, over its limit of {MaxLineBytes}, that answers no request the gateway can name");
                return;
        }

        RequestId id = skipped.Id!.Value;
        if (id.Id is string text && text.StartsWith(RawIdPrefix, StringComparison.Ordinal))
        {
            if (_raw.TryRemove(text, out RawRequest? pending))
            {
                pending.TrySetException(new OversizedReplyException(message));
            }

            return;
        }

        _ = WriteMessageAsync(new JsonRpcError { Id = id, Error = new JsonRpcErrorDetail { Code = (int)McpErrorCode.InternalError, Message = message } });
    }

    private static bool TryReadId(ReadOnlySpan<byte> line, out string id)
    {
        id = string.Empty;
        var reader = new Utf8JsonReader(line);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        bool isResponse = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    id = reader.GetString()!;
                }
                else
                {
                    reader.Skip();
                }
            }
            else
            {
                isResponse |= reader.ValueTextEquals("result"u8) || reader.ValueTextEquals("error"u8);
                if (reader.ValueTextEquals("method"u8))
                {
                    return false;
                }

                reader.Read();
                reader.Skip();
            }
        }

        return isResponse && id.StartsWith(RawIdPrefix, StringComparison.Ordinal);
    }

    /// <summary>
    /// The process exited: its last messages may still be in the pipe, and the output normally ends a moment later.
    /// A child of the server can keep the output open, though, so the connection is declared over after a short
    /// grace either way: a caller waits a fraction of a second, never its whole timeout.
    /// </summary>
    private async Task CloseSoonAsync()
    {
        await Task.Delay(s_exitGrace).ConfigureAwait(false);
        Close(DescribeExit());
    }

    protected override void OnInputEnded(Exception? error)
    {
        if (error is null && !HasExited())
        {
            // A process's output ends a moment before it is seen to exit: wait that moment (at most a bounded while), so the reason
            // carries the exit code, whichever of the two the gateway notices first.
            _ = CloseOnceExitedAsync();
            return;
        }

        Close(HasExited() ? DescribeExit() : error is null ? "the server closed its output" : "reading from the server failed: " + error.Message);
    }

    private async Task CloseOnceExitedAsync()
    {
        try
        {
            using var grace = new CancellationTokenSource(s_outputEndedGrace);
            await _process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            // Still running (a server that closed its output but lives on), or already disposed.
        }

        Close(HasExited() ? DescribeExit() : "the server closed its output");
    }

    private bool HasExited()
    {
        try
        {
            return _process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    /// <summary>Ends the connection once: fails every raw request in flight, then completes the SDK's channel with the reason.</summary>
    private void Close(string reason)
    {
        if (Interlocked.CompareExchange(ref _closed, reason, null) is not null)
        {
            return;
        }

        var ended = new IOException(reason);
        foreach (string id in _raw.Keys)
        {
            if (_raw.TryRemove(id, out RawRequest? pending))
            {
                pending.TrySetException(ended);
            }
        }

        if (Interlocked.Exchange(ref _disconnected, 1) == 0)
        {
            // The same completion the SDK's stdio transport reports, so the exit code and stderr tail reach the logs.
            // Nothing here may throw: the SDK's channel must complete, or everything waiting on it waits forever.
            SetDisconnected(new ClientTransportClosedException(new StdioClientCompletionDetails
            {
                ProcessId = ProcessId,
                ExitCode = ExitCode(),
                StandardErrorTail = [.. StandardErrorTail],
                Exception = ended,
            }));
        }
    }

    private string DescribeExit() =>
        ExitCode() is int code ? $"the process exited with code {code.ToString(CultureInfo.InvariantCulture)}" : "the process exited";

    /// <summary>The exit code once the process has exited; null before, and once the process object is disposed.</summary>
    private int? ExitCode()
    {
        try
        {
            return _process.HasExited ? _process.ExitCode : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Reads stderr line by line, each cut to a bounded length, so a server cannot make the gateway hold a huge line.</summary>
    private async Task ReadStandardErrorAsync()
    {
        var decoder = new UTF8Encoding(false).GetDecoder();
        byte[] bytes = ArrayPool<byte>.Shared.Rent(8192);
        char[] chars = ArrayPool<char>.Shared.Rent(8192);
        var line = new StringBuilder();
        bool cut = false;
        try
        {
            Stream stderr = _process.StandardError.BaseStream;
            int read;
            while ((read = await stderr.ReadAsync(bytes)) > 0)
            {
                int count = decoder.GetChars(bytes, 0, read, chars, 0);
                for (int i = 0; i < count; i++)
                {
                    char c = chars[i];
                    if (c == '\n')
                    {
                        EmitStderr(line, cut);
                        line.Clear();
                        cut = false;
                    }
                    else if (c != '\r' && line.Length < MaxStderrLineChars)
                    {
                        line.Append(c);
                    }
                    else if (c != '\r')
                    {
                        cut = true;
                    }
                }
            }

            if (line.Length > 0)
            {
                EmitStderr(line, cut);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The process is gone.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    private void EmitStderr(StringBuilder line, bool cut)
    {
        string text = cut ? line.Append(" …(cut)").ToString() : line.ToString();
        lock (_stderrTail)
        {
            _stderrTail.Enqueue(text);
            if (_stderrTail.Count > StderrTailLines)
            {
                _stderrTail.Dequeue();
            }
        }

        _stderrLine(text);
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopWritingAsync(TimeSpan.FromMilliseconds(200));

        // Closing stdin asks a well-behaved server to exit; its process group is stopped if it has not after the grace.
        await ChildProcesses.StopAsync(_process, _stopGrace, _logger);
        Close(DescribeExit());
        await StopReadingAsync();
        await _stderr.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        // Process.Dispose leaves the redirected streams to whoever read them (here): without this, the descriptors of
        // stdout and stderr stay open until a garbage collection finalizes them, two for every restart of a server.
        try
        {
            _process.StandardOutput.Dispose();
            _process.StandardError.Dispose();
        }
        catch (InvalidOperationException)
        {
            // The process object was disposed already (and its streams with it).
        }

        _process.Dispose();
    }
}

/// <summary>A reply over the server's message size limit, dropped unread.</summary>
internal sealed class OversizedReplyException(string message) : IOException(message);

/// <summary>What a message skipped for its size was, as far as its first and last bytes tell.</summary>
internal enum OversizedKind
{
    /// <summary>Nothing tells: no id could be found where one would be.</summary>
    Unknown,

    /// <summary>A result or error: the answer to the gateway's request with the id.</summary>
    Response,

    /// <summary>A request of the server's own (sampling, say): its id is in the server's numbering, not the gateway's.</summary>
    Request,

    /// <summary>A notification: nobody waits for it.</summary>
    Notification,
}

/// <summary>A message skipped for its size: what it was, and its id when it has one.</summary>
internal readonly record struct OversizedMessage(OversizedKind Kind, RequestId? Id = null);

/// <summary>
/// Finds the id of a message that was skipped for its size, from its first and last bytes only. The top-level
/// <c>id</c> is either among the first properties (some SDKs write <c>jsonrpc</c> and <c>id</c> first) or among the
/// last, after the result: followed by nothing but the closing brace (the TypeScript SDK: result, jsonrpc, id) or by
/// <c>"jsonrpc":"2.0"</c> and the brace (the C# SDK: result, id, jsonrpc).
/// A top-level <c>method</c> makes it a request or notification of the server's: its id, if any, answers nothing of
/// the gateway's (both sides number their requests from 0, so taking it for a reply would fail an unrelated call).
/// </summary>
internal static partial class OversizedMessageId
{
    /// <summary>The id of the gateway's request that a skipped response answers; null for anything else.</summary>
    public static RequestId? Find(ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail) =>
        Read(head, tail) is { Kind: OversizedKind.Response, Id: { } id } ? id : null;

    public static OversizedMessage Read(ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail)
    {
        (RequestId? id, bool hasMethod) = FromHead(head);
        id ??= FromTail(tail);
        return (id, hasMethod) switch
        {
            (null, true) => new OversizedMessage(OversizedKind.Notification),
            (null, false) => new OversizedMessage(OversizedKind.Unknown),
            (_, true) => new OversizedMessage(OversizedKind.Request, id),
            _ => new OversizedMessage(OversizedKind.Response, id),
        };
    }

    /// <summary>The id among the first properties, and whether a <c>method</c> is among them (before a value too long to read).</summary>
    private static (RequestId? Id, bool HasMethod) FromHead(ReadOnlySpan<byte> head)
    {
        var reader = new Utf8JsonReader(head, isFinalBlock: false, default);
        RequestId? id = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return (null, false);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("method"u8))
                {
                    return (id, true);
                }

                bool isId = reader.ValueTextEquals("id"u8);
                if (!reader.Read())
                {
                    break;
                }

                if (isId)
                {
                    id = reader.TokenType switch
                    {
                        JsonTokenType.String => new RequestId(reader.GetString()!),
                        JsonTokenType.Number when reader.TryGetInt64(out long number) => new RequestId(number),
                        _ => null,
                    };

                    // Read on: a request's method may come after its id.
                    continue;
                }

                if (!reader.TrySkip())
                {
                    // The rest is beyond what was kept.
                    break;
                }
            }
        }
        catch (JsonException)
        {
        }

        return (id, false);
    }

    private static RequestId? FromTail(ReadOnlySpan<byte> tail)
    {
        Match match = TrailingId().Match(Encoding.UTF8.GetString(tail));
        if (!match.Success)
        {
            return null;
        }

        if (match.Groups["number"].Success && long.TryParse(match.Groups["number"].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long number))
        {
            return new RequestId(number);
        }

        return match.Groups["text"].Success ? new RequestId(JsonSerializer.Deserialize(match.Groups["text"].Value, GatewayJsonContext.Default.String)!) : null;
    }

    [GeneratedRegex("""[,{]\s*"id"\s*:\s*(?:(?<number>-?\d+)|(?<text>"(?:[^"\\]|\\.)*"))\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$""", RegexOptions.CultureInvariant)]
    private static partial Regex TrailingId();
}
