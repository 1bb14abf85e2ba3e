using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using McpGateway.Configuration;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.FastPath;

/// <summary>
/// Starts a stdio MCP server as a child process and connects to it, like the SDK's <c>StdioClientTransport</c>
/// (command, arguments, environment, working directory, stderr passed to the log, the process tree stopped on
/// dispose), and besides lets the gateway send a request as raw bytes and get the raw response line back.
/// </summary>
internal sealed class StdioProcessClientTransport(ServerConfig config, Action<string> stderrLine, ILoggerFactory loggerFactory) : IClientTransport
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
            StandardErrorEncoding = new UTF8Encoding(false),
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

        Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start '{config.Command}'");
        var connection = new StdioProcessTransport(config.Name, process, stderrLine, loggerFactory);
        Connection = connection;
        return Task.FromResult<ITransport>(connection);
    }
}

/// <summary>The connection to one child process. See <see cref="StdioProcessClientTransport"/>.</summary>
internal sealed class StdioProcessTransport : JsonLineTransport
{
    private const string RawIdPrefix = "mcpgw:";
    private const int StderrTailLines = 20;
    private static readonly TimeSpan s_shutdownTimeout = TimeSpan.FromSeconds(2);
    private static long s_nextRawId;

    private readonly Process _process;
    private readonly ConcurrentDictionary<string, RawRequest> _raw = new(StringComparer.Ordinal);
    private readonly Queue<string> _stderrTail = new();
    private int _disposed;

    public StdioProcessTransport(string name, Process process, Action<string> stderrLine, ILoggerFactory loggerFactory)
        : base(name, process.StandardOutput.BaseStream, process.StandardInput.BaseStream, loggerFactory)
    {
        _process = process;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (_stderrTail)
            {
                _stderrTail.Enqueue(e.Data);
                if (_stderrTail.Count > StderrTailLines)
                {
                    _stderrTail.Dequeue();
                }
            }

            stderrLine(e.Data);
        };
        process.BeginErrorReadLine();
        Start();
    }

    public int ProcessId => _process.Id;

    /// <summary>
    /// Sends a request built by <paramref name="build"/> (given the JSON-encoded id to put in it) and returns the raw
    /// response line. Cancelling sends <c>notifications/cancelled</c> for it, as the SDK does for its own requests.
    /// </summary>
    public async Task<byte[]> RequestRawAsync(Func<string, byte[]> build, CancellationToken cancellationToken)
    {
        string id = RawIdPrefix + Interlocked.Increment(ref s_nextRawId).ToString(CultureInfo.InvariantCulture);
        var answer = new RawRequest(PassedOn);
        _raw[id] = answer;
        Enqueue(build("\"" + id + "\""));
        using CancellationTokenRegistration cancel = cancellationToken.Register(() =>
        {
            if (_raw.TryRemove(id, out RawRequest? pending))
            {
                Enqueue(JsonSerializer.SerializeToUtf8Bytes(
                    new JsonRpcNotification { Method = NotificationMethods.CancelledNotification, Params = new System.Text.Json.Nodes.JsonObject { ["requestId"] = id, ["reason"] = "The agent cancelled the request." } },
                    ModelContextProtocol.McpJsonUtilities.ProtocolOptions.GetTypeInfo(typeof(JsonRpcMessage))));
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

    protected override void OnInputEnded(Exception? error)
    {
        var ended = new IOException("the server closed its output");
        foreach (RawRequest pending in _raw.Values)
        {
            pending.TrySetException(ended);
        }

        _raw.Clear();
        int? exitCode = null;
        if (_process.WaitForExit(TimeSpan.FromMilliseconds(500)))
        {
            exitCode = _process.ExitCode;
        }

        string[] tail;
        lock (_stderrTail)
        {
            tail = [.. _stderrTail];
        }

        // The same completion the SDK's stdio transport reports, so the exit code and stderr tail reach the logs.
        SetDisconnected(new ClientTransportClosedException(new StdioClientCompletionDetails
        {
            ProcessId = _process.Id,
            ExitCode = exitCode,
            StandardErrorTail = tail,
            Exception = error,
        }));
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopWritingAsync(TimeSpan.FromMilliseconds(200));
        try
        {
            // Closing stdin asks a well-behaved server to exit; the process tree is killed if it has not after the timeout.
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
        }

        using var timeout = new CancellationTokenSource(s_shutdownTimeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }

        await StopReadingAsync();
        _process.Dispose();
    }
}
