using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace McpGateway.LoadTest;

/// <summary>
/// The legacy HTTP+SSE transport (protocol 2024-11-05): one long-lived GET carries every response as
/// <c>event: message</c>, requests are POSTed to the URL the server names in its <c>endpoint</c> event, and answers are
/// matched to requests by id. The stream and the POSTs use separate keep-alive connections.
/// </summary>
internal sealed class SseSession(Uri sseUrl, CallTemplate template, IReadOnlyDictionary<string, string>? headers = null) : ILoadSession
{
    private static readonly TimeSpan s_handshakeTimeout = TimeSpan.FromSeconds(60);
    private readonly HttpClient _stream = new(Handler()) { Timeout = Timeout.InfiniteTimeSpan };
    private readonly HttpClient _post = new(Handler()) { Timeout = TimeSpan.FromMinutes(2) };
    private readonly ConcurrentDictionary<long, TaskCompletionSource<bool>> _pending = new();
    private readonly TaskCompletionSource<Uri> _endpoint = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _closing = new();
    private HttpResponseMessage? _streamResponse;
    private Task? _reader;
    private Uri? _messages;
    private long _nextId;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (_reader is not null)
        {
            return;
        }

        using var open = new HttpRequestMessage(HttpMethod.Get, sseUrl) { Version = HttpVersion.Version11 };
        open.Headers.Accept.ParseAdd("text/event-stream");
        open.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        AddHeaders(open);
        _streamResponse = await _stream.SendAsync(open, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        _streamResponse.EnsureSuccessStatusCode();
        Stream events = await _streamResponse.Content.ReadAsStreamAsync(cancellationToken);
        _reader = Task.Run(() => ReadAsync(events, _closing.Token), CancellationToken.None);

        _messages = await _endpoint.Task.WaitAsync(s_handshakeTimeout, cancellationToken);
        long id = Interlocked.Increment(ref _nextId);
        Task<bool> answered = Register(id);
        await PostAsync(id, CallTemplate.Initialize(id), cancellationToken);
        if (!await answered.WaitAsync(s_handshakeTimeout, cancellationToken))
        {
            throw new InvalidOperationException($"initialize through {sseUrl} answered with an error");
        }

        await PostAsync(null, CallTemplate.Initialized, cancellationToken);
    }

    public async Task<bool> CallAsync(CancellationToken cancellationToken)
    {
        long id = Interlocked.Increment(ref _nextId);
        Task<bool> answered = Register(id);
        if (!await PostAsync(id, template.Build(id), cancellationToken))
        {
            return false;
        }

        return await answered.WaitAsync(cancellationToken);
    }

    private Task<bool> Register(long id)
    {
        var completion = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = completion;
        return completion.Task;
    }

    /// <summary>POSTs one message; the answer comes on the stream, the POST itself only says "202 Accepted".</summary>
    private async Task<bool> PostAsync(long? id, byte[] body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _messages) { Content = new ByteArrayContent(body), Version = HttpVersion.Version11 };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        AddHeaders(request);
        bool accepted = false;
        try
        {
            using HttpResponseMessage response = await _post.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            accepted = response.IsSuccessStatusCode;
            return accepted;
        }
        finally
        {
            if (!accepted && id is long sent)
            {
                _pending.TryRemove(sent, out _);
            }
        }
    }

    private void AddHeaders(HttpRequestMessage request)
    {
        foreach ((string name, string value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
    }

    /// <summary>Reads server-sent events: lines of <c>field: value</c>, an empty line ends an event.</summary>
    private async Task ReadAsync(Stream events, CancellationToken cancellationToken)
    {
        var data = new ArrayBufferWriter<byte>(1 << 12);
        bool endpointEvent = false;
        bool otherEvent = false;
        void OnLine(ReadOnlySpan<byte> line)
        {
            if (!line.IsEmpty && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }

            if (line.IsEmpty)
            {
                // End of event: "message" (or unnamed) events carry JSON-RPC, "endpoint" names the POST URL.
                if (data.WrittenCount > 0)
                {
                    if (endpointEvent)
                    {
                        _endpoint.TrySetResult(new Uri(sseUrl, Encoding.UTF8.GetString(data.WrittenSpan).Trim()));
                    }
                    else if (!otherEvent)
                    {
                        Dispatch(data.WrittenSpan);
                    }
                }

                data.ResetWrittenCount();
                endpointEvent = otherEvent = false;
            }
            else if (line.StartsWith("data:"u8))
            {
                if (data.WrittenCount > 0)
                {
                    data.Write("\n"u8);
                }

                data.Write(FieldValue(line[5..]));
            }
            else if (line.StartsWith("event:"u8))
            {
                ReadOnlySpan<byte> name = FieldValue(line[6..]);
                endpointEvent = name.SequenceEqual("endpoint"u8);
                otherEvent = !endpointEvent && !name.SequenceEqual("message"u8);
            }

            // "id:", "retry:" and ":" comments need nothing.
        }

        try
        {
            await Lines.ReadAllAsync(events, 1 << 16, OnLine, cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
        }
        catch (HttpRequestException)
        {
        }
        finally
        {
            var closed = new IOException($"the event stream from {sseUrl} closed");
            _endpoint.TrySetException(closed);
            foreach (long id in _pending.Keys)
            {
                if (_pending.TryRemove(id, out TaskCompletionSource<bool>? pending))
                {
                    pending.TrySetException(closed);
                }
            }
        }
    }

    private static ReadOnlySpan<byte> FieldValue(ReadOnlySpan<byte> value) =>
        !value.IsEmpty && value[0] == (byte)' ' ? value[1..] : value;

    private void Dispatch(ReadOnlySpan<byte> message)
    {
        // Only responses matter.
        if (!JsonRpcReply.TryScan(message, out long? id, out bool isResult))
        {
            return;
        }

        if (id is long known && _pending.TryRemove(known, out TaskCompletionSource<bool>? completion))
        {
            completion.TrySetResult(isResult);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        _streamResponse?.Dispose();
        _stream.Dispose();
        _post.Dispose();
        if (_reader is not null)
        {
            await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _closing.Dispose();
    }

    private static SocketsHttpHandler Handler() => new()
    {
        UseProxy = false,
        MaxConnectionsPerServer = 1,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        AutomaticDecompression = DecompressionMethods.None,
    };
}
