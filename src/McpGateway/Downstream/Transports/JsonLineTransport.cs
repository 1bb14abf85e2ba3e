using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// Newline-delimited JSON-RPC over a pair of streams (stdio), for both faces of the gateway. It does what the SDK's
/// stream transports do (the SDK reads and writes its messages through it) and two things they cannot: a subclass sees
/// every line as raw bytes before it is parsed, so the forwarding fast path can answer a tool call without building a
/// message object; and writes are queued and flushed in batches, one system call for as many messages as are waiting.
/// A line longer than the transport's limit is never held whole: it is skipped as it streams past (its first and last
/// few kilobytes kept, to tell whose message it was), so a server that sends 50 MB costs the gateway nothing.
/// </summary>
internal abstract partial class JsonLineTransport : TransportBase
{
    private const int InitialBufferBytes = 64 * 1024;
    private const int KeptBytes = 4 * 1024;
    private static readonly JsonSerializerOptions s_protocol = McpJsonUtilities.ProtocolOptions;

    private readonly Stream _input;
    private readonly Stream _output;
    private readonly ILogger _logger;
    private readonly Channel<byte[]> _outgoing = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _shutdown = new();
    private Task _reading = Task.CompletedTask;
    private Task _writing = Task.CompletedTask;
    private long _passedOn;

    protected JsonLineTransport(string name, Stream input, Stream output, ILoggerFactory? loggerFactory, long maxLineBytes = DownstreamOptions.StandardMaxMessageBytes)
        : base(name, loggerFactory)
    {
        _input = input;
        _output = output;
        MaxLineBytes = (int)Math.Clamp(maxLineBytes, 1024, int.MaxValue - 1);
        _logger = loggerFactory?.CreateLogger(GetType()) ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <summary>Starts reading and writing; call once the subclass is fully constructed.</summary>
    protected void Start()
    {
        SetConnected();
        _reading = Task.Run(ReadLoopAsync);
        _writing = Task.Run(WriteLoopAsync);
    }

    /// <summary>
    /// Offered every line before it is parsed; return true to take it (the SDK never sees it). The span is only valid
    /// during the call. Runs on the read loop: must not block.
    /// </summary>
    protected virtual bool TryTakeLine(ReadOnlySpan<byte> line) => false;

    /// <summary>The longest message accepted; longer ones go to <see cref="OnOversizedLine"/>.</summary>
    public int MaxLineBytes { get; }

    /// <summary>
    /// Called on the read loop for a line longer than <see cref="MaxLineBytes"/>, which was skipped: given its first
    /// and last bytes and its length, to answer whoever waits for it.
    /// </summary>
    protected virtual void OnOversizedLine(ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail, long length)
    {
    }

    /// <summary>How many messages the read loop has passed on to the SDK's channel so far.</summary>
    protected long PassedOn => Interlocked.Read(ref _passedOn);

    /// <summary>
    /// Runs <paramref name="action"/> once every message passed on before it has been read from the channel: it travels
    /// through the channel as a <see cref="RawReplyMarker"/>, which the gateway's ordered reader runs instead of passing on.
    /// </summary>
    protected void RunInOrder(Action action) => _ = WriteMessageAsync(RawReplyMarker.Create(action));

    /// <summary>Called once when the input ends (or fails); the default completes the SDK's channel.</summary>
    protected virtual void OnInputEnded(Exception? error) => SetDisconnected(error);

    /// <summary>Why the connection is over, for a message sent after it ended.</summary>
    protected virtual string EndedReason => "the connection has ended";

    public override Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default)
    {
        // Once the connection has ended, the SDK has already failed every request it knew of; one it registers now
        // (a first request racing a server that exits at once) would wait for its timeout. It fails here instead.
        if (!IsConnected)
        {
            return Task.FromException(new IOException(EndedReason));
        }

        byte[] json = JsonSerializer.SerializeToUtf8Bytes(message, s_protocol.GetTypeInfo(typeof(JsonRpcMessage)));
        Enqueue(json);
        return Task.CompletedTask;
    }

    /// <summary>Queues one complete JSON message (without its newline) for writing, after everything queued before it.</summary>
    public void Enqueue(byte[] json) => _outgoing.Writer.TryWrite(json);

    private async Task ReadLoopAsync()
    {
        LineBuffer buffer = LineBuffer.Rent(InitialBufferBytes);
        int filled = 0;
        Exception? error = null;
        var skipping = new OversizedLine();
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    if (buffer.Length > MaxLineBytes)
                    {
                        // A line longer than allowed: keep its start, drop the rest until its end, and shrink back.
                        skipping.Begin(buffer.Span[..filled]);
                        buffer.Dispose();
                        buffer = LineBuffer.Rent(InitialBufferBytes);
                        filled = 0;
                    }
                    else
                    {
                        LineBuffer larger = LineBuffer.Rent((int)Math.Min((long)buffer.Length * 2, MaxLineBytes + 1L));
                        buffer.Span[..filled].CopyTo(larger.Span);
                        buffer.Dispose();
                        buffer = larger;
                    }
                }

                int read = await _input.ReadAsync(buffer.Memory[filled..], _shutdown.Token);
                if (read == 0)
                {
                    break;
                }

                int scanFrom = filled;
                filled += read;
                int start = 0;
                if (skipping.Active)
                {
                    int end = buffer.Span[..filled].IndexOf((byte)'\n');
                    if (end < 0)
                    {
                        skipping.Skip(buffer.Span[..filled]);
                        filled = 0;
                        continue;
                    }

                    skipping.Skip(buffer.Span[..end]);
                    OnOversizedLine(skipping.Head, skipping.Tail, skipping.Length);
                    LogOversized(_logger, Name, skipping.Length, MaxLineBytes);
                    skipping.Reset();
                    start = scanFrom = end + 1;
                }

                int newline;
                while ((newline = buffer.Span[scanFrom..filled].IndexOf((byte)'\n')) >= 0)
                {
                    int end = scanFrom + newline;
                    if (end - start > MaxLineBytes)
                    {
                        // Whole in the buffer, but over the limit all the same (pooled buffers come in powers of two).
                        skipping.Begin(buffer.Span[start..end]);
                        OnOversizedLine(skipping.Head, skipping.Tail, skipping.Length);
                        LogOversized(_logger, Name, skipping.Length, MaxLineBytes);
                        skipping.Reset();
                    }
                    else
                    {
                        Dispatch(buffer.Span[start..end]);
                    }

                    start = scanFrom = end + 1;
                }

                if (start > 0)
                {
                    buffer.Span[start..filled].CopyTo(buffer.Span);
                    filled -= start;
                }

                if (buffer.Length > InitialBufferBytes && filled <= InitialBufferBytes / 2)
                {
                    // Back to the usual size once a large message has gone through, so memory returns.
                    LineBuffer smaller = LineBuffer.Rent(InitialBufferBytes);
                    buffer.Span[..filled].CopyTo(smaller.Span);
                    buffer.Dispose();
                    buffer = smaller;
                }
            }
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ObjectDisposedException)
        {
            error = ex;
        }
        finally
        {
            // The read that ended the loop has completed (or failed): nothing writes into the buffer any more.
            buffer.Dispose();
            OnInputEnded(error);
        }
    }

    /// <summary>The first and last bytes of a line being skipped for its size, and how long it was.</summary>
    private sealed class OversizedLine
    {
        private readonly byte[] _head = new byte[KeptBytes];
        private readonly byte[] _tail = new byte[KeptBytes];
        private int _headLength;
        private int _tailLength;

        public bool Active { get; private set; }

        public long Length { get; private set; }

        public ReadOnlySpan<byte> Head => _head.AsSpan(0, _headLength);

        public ReadOnlySpan<byte> Tail => _tail.AsSpan(0, _tailLength);

        public void Begin(ReadOnlySpan<byte> start)
        {
            Active = true;
            _headLength = Math.Min(start.Length, KeptBytes);
            start[.._headLength].CopyTo(_head);
            Length = 0;
            _tailLength = 0;
            Skip(start);
        }

        public void Skip(ReadOnlySpan<byte> bytes)
        {
            Length += bytes.Length;
            if (bytes.Length >= KeptBytes)
            {
                bytes[^KeptBytes..].CopyTo(_tail);
                _tailLength = KeptBytes;
                return;
            }

            int keep = Math.Min(_tailLength, KeptBytes - bytes.Length);
            _tail.AsSpan(_tailLength - keep, keep).CopyTo(_tail);
            bytes.CopyTo(_tail.AsSpan(keep));
            _tailLength = keep + bytes.Length;
        }

        public void Reset()
        {
            Active = false;
            Length = 0;
            _headLength = _tailLength = 0;
        }
    }

    private void Dispatch(ReadOnlySpan<byte> line)
    {
        line = line.TrimEnd((byte)'\r');
        if (line.IsEmpty || TryTakeLine(line))
        {
            return;
        }

        try
        {
            if (JsonSerializer.Deserialize(line, s_protocol.GetTypeInfo(typeof(JsonRpcMessage))) is JsonRpcMessage message)
            {
                Interlocked.Increment(ref _passedOn);
                _ = WriteMessageAsync(message);
            }
        }
        catch (JsonException ex)
        {
            LogUnparsable(_logger, Name, ex.Message);
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new ArrayBufferWriter<byte>(64 * 1024);
        ChannelReader<byte[]> reader = _outgoing.Reader;
        try
        {
            while (await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out byte[]? json))
                {
                    batch.Write(json);
                    batch.Write("\n"u8);
                }

                await _output.WriteAsync(batch.WrittenMemory);
                await _output.FlushAsync();
                batch.ResetWrittenCount();
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The other side is gone; reading ends too and reports it.
            LogWriteFailed(_logger, Name, ex.Message);
        }
    }

    /// <summary>Stops writing once what is queued is written (or <paramref name="drain"/> passes).</summary>
    protected async Task StopWritingAsync(TimeSpan drain)
    {
        _outgoing.Writer.TryComplete();
        await _writing.WaitAsync(drain).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Stops reading.</summary>
    protected async Task StopReadingAsync()
    {
        await _shutdown.CancelAsync();
        await _reading.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Name}: a line that is not a JSON-RPC message was ignored: {Error}")]
    private static partial void LogUnparsable(ILogger logger, string name, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Name}: a message of {Length} bytes was dropped: the limit is {Limit} bytes.")]
    private static partial void LogOversized(ILogger logger, string name, long length, int limit);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Name}: writing failed: {Error}")]
    private static partial void LogWriteFailed(ILogger logger, string name, string error);
}
