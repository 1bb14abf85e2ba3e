using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace McpGateway.LoadTest;

/// <summary>One agent's connection under load: initialise once, then make tools/call requests.</summary>
internal interface ILoadSession : IAsyncDisposable
{
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Makes one call; true when the answer is a JSON-RPC result (not an error).</summary>
    Task<bool> CallAsync(CancellationToken cancellationToken);
}

/// <summary>Called with each line of a stream, without its newline; the span is valid only during the call.</summary>
internal delegate void LineHandler(ReadOnlySpan<byte> line);

/// <summary>Reads a stream as newline-separated lines into one pooled buffer that grows for long lines.</summary>
internal static class Lines
{
    public static async Task ReadAllAsync(Stream stream, int initialSize, LineHandler onLine, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(initialSize);
        int filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken);
                if (read == 0)
                {
                    return;
                }

                filled += read;
                int start = 0;
                int newline;
                while ((newline = buffer.AsSpan(start, filled - start).IndexOf((byte)'\n')) >= 0)
                {
                    onLine(buffer.AsSpan(start, newline));
                    start += newline + 1;
                }

                buffer.AsSpan(start, filled - start).CopyTo(buffer);
                filled -= start;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>Finds a JSON-RPC message's top-level <c>id</c> and whether it carries a <c>result</c>, without building a document.</summary>
internal static class JsonRpcReply
{
    public static bool TryScan(ReadOnlySpan<byte> message, out long? id, out bool isResult)
    {
        var reader = new Utf8JsonReader(message);
        id = null;
        isResult = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long value))
                    {
                        id = value;
                    }
                }
                else
                {
                    bool result = reader.ValueTextEquals("result"u8);
                    reader.Read();
                    isResult |= result;
                    reader.Skip();
                }
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

/// <summary>The request a load run repeats, as pre-encoded JSON around the request id.</summary>
internal sealed class CallTemplate(string tool, string argumentsJson)
{
    private readonly byte[] _prefix = Encoding.UTF8.GetBytes("{\"jsonrpc\":\"2.0\",\"id\":");
    private readonly byte[] _suffix = Encoding.UTF8.GetBytes($",\"method\":\"tools/call\",\"params\":{{\"name\":{JsonSerializer.Serialize(tool)},\"arguments\":{argumentsJson}}}}}");

    public string Tool { get; } = tool;

    public byte[] Build(long id)
    {
        Span<byte> digits = stackalloc byte[20];
        id.TryFormat(digits, out int written, provider: CultureInfo.InvariantCulture);
        byte[] body = new byte[_prefix.Length + written + _suffix.Length];
        _prefix.CopyTo(body, 0);
        digits[..written].CopyTo(body.AsSpan(_prefix.Length));
        _suffix.CopyTo(body, _prefix.Length + written);
        return body;
    }

    public static byte[] Initialize(long id) => Encoding.UTF8.GetBytes(
        $"{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"mcp-loadtest\",\"version\":\"1.0\"}}}}}}");

    public static byte[] Initialized { get; } = Encoding.UTF8.GetBytes("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");

    /// <summary>True when a JSON-RPC response (plain or inside SSE data lines) carries a result rather than an error.</summary>
    public static bool IsResult(ReadOnlySpan<byte> response) =>
        response.IndexOf("\"result\""u8) >= 0 && response.IndexOf("\"error\":{"u8) < 0;
}

/// <summary>Streamable HTTP over keep-alive: one HTTP connection and one MCP session per load session.</summary>
internal sealed class StreamableHttpSession(Uri endpoint, CallTemplate template, bool stateless, IReadOnlyDictionary<string, string> headers) : ILoadSession
{
    private static long s_nextId;
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        UseProxy = false,
        MaxConnectionsPerServer = 1,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        AutomaticDecompression = DecompressionMethods.None,
    })
    { Timeout = TimeSpan.FromMinutes(2) };

    private string? _sessionId;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (stateless)
        {
            return;
        }

        using HttpResponseMessage init = await PostAsync(CallTemplate.Initialize(Interlocked.Increment(ref s_nextId)), cancellationToken);
        init.EnsureSuccessStatusCode();
        _sessionId = init.Headers.TryGetValues("Mcp-Session-Id", out IEnumerable<string>? ids) ? ids.First() : null;
        _ = await init.Content.ReadAsByteArrayAsync(cancellationToken);
        using HttpResponseMessage initialized = await PostAsync(CallTemplate.Initialized, cancellationToken);
        _ = await initialized.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    public async Task<bool> CallAsync(CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await PostAsync(template.Build(Interlocked.Increment(ref s_nextId)), cancellationToken);
        byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return response.IsSuccessStatusCode && CallTemplate.IsResult(body);
    }

    private Task<HttpResponseMessage> PostAsync(byte[] body, CancellationToken cancellationToken) =>
        _http.SendAsync(Post(endpoint, body, _sessionId, headers), HttpCompletionOption.ResponseContentRead, cancellationToken);

    /// <summary>A Streamable HTTP POST of one JSON-RPC message (2025-11-25), in a session when <paramref name="sessionId"/> is set.</summary>
    public static HttpRequestMessage Post(Uri endpoint, byte[] body, string? sessionId, IReadOnlyDictionary<string, string> headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(body), Version = HttpVersion.Version11 };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.TryAddWithoutValidation("MCP-Protocol-Version", "2025-11-25");
        if (sessionId is not null)
        {
            request.Headers.TryAddWithoutValidation("Mcp-Session-Id", sessionId);
        }

        foreach ((string name, string value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Newline-delimited JSON-RPC over a process's stdin/stdout, the way an agent talks to a stdio server. Load sessions
/// share the one connection (as concurrent requests of one client); responses are matched to requests by id.
/// </summary>
internal sealed class StdioConnection : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Stream _stdin;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<long, TaskCompletionSource<bool>> _pending = new();
    private readonly ConcurrentDictionary<long, TaskCompletionSource<byte[]>> _raw = new();
    private readonly Task _reader;
    private long _nextId;

    public StdioConnection(string command, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(command)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {command}");
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _stdin = _process.StandardInput.BaseStream;
        _reader = Task.Run(ReadAsync);
    }

    public int ProcessId => _process.Id;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        long id = Interlocked.Increment(ref _nextId);
        Task<bool> answered = Register(id);
        await WriteAsync(CallTemplate.Initialize(id), cancellationToken);
        await answered.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        await WriteAsync(CallTemplate.Initialized, cancellationToken);
    }

    public async Task<bool> CallAsync(CallTemplate template, CancellationToken cancellationToken)
    {
        long id = Interlocked.Increment(ref _nextId);
        Task<bool> answered = Register(id);
        await WriteAsync(template.Build(id), cancellationToken);
        return await answered.WaitAsync(cancellationToken);
    }

    /// <summary>Sends a request built by <paramref name="build"/> for a fresh id and returns the whole response line.</summary>
    public async Task<byte[]> RequestAsync(Func<long, byte[]> build, CancellationToken cancellationToken)
    {
        long id = Interlocked.Increment(ref _nextId);
        var completion = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        _raw[id] = completion;
        await WriteAsync(build(id), cancellationToken);
        return await completion.Task.WaitAsync(cancellationToken);
    }

    private Task<bool> Register(long id)
    {
        var completion = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = completion;
        return completion.Task;
    }

    private async Task WriteAsync(byte[] line, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _stdin.WriteAsync(line, cancellationToken);
            _stdin.WriteByte((byte)'\n');
            await _stdin.FlushAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            await Lines.ReadAllAsync(_process.StandardOutput.BaseStream, 1 << 20, Dispatch, CancellationToken.None);
        }
        finally
        {
            foreach (TaskCompletionSource<bool> pending in _pending.Values)
            {
                pending.TrySetException(new IOException("the process closed its output"));
            }

            foreach (TaskCompletionSource<byte[]> pending in _raw.Values)
            {
                pending.TrySetException(new IOException("the process closed its output"));
            }
        }
    }

    private void Dispatch(ReadOnlySpan<byte> line)
    {
        if (!JsonRpcReply.TryScan(line, out long? id, out bool isResult))
        {
            return;
        }

        if (id is long known && _pending.TryRemove(known, out TaskCompletionSource<bool>? completion))
        {
            completion.TrySetResult(isResult);
        }
        else if (id is long rawId && _raw.TryRemove(rawId, out TaskCompletionSource<byte[]>? raw))
        {
            raw.TrySetResult(line.ToArray());
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _stdin.Close();
            if (!_process.WaitForExit(3000))
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }

        await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _process.Dispose();
    }
}

/// <summary>A load session that is one concurrent caller on a shared stdio connection.</summary>
internal sealed class StdioSession(StdioConnection connection, CallTemplate template) : ILoadSession
{
    public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<bool> CallAsync(CancellationToken cancellationToken) => connection.CallAsync(template, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
