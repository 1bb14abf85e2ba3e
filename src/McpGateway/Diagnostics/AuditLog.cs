using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace McpGateway.Diagnostics;

/// <summary>
/// The audit log: one JSON line per decision and per call. Callers only enqueue (<see cref="Write"/> costs a channel
/// write); one writer task serializes, batches and writes, and rotates files by size. Records are never dropped to
/// keep up: when the buffer is full, callers wait for room. A sink that fails costs the records it could not take
/// (counted in <see cref="Failed"/>, logged once) and is opened again for the next batch.
/// </summary>
internal sealed partial class AuditLog : IAsyncDisposable
{
    /// <summary>A batch is handed to the sink once it reaches this size, or as soon as the buffer is empty.</summary>
    private const int BatchBytes = 64 * 1024;

    /// <summary>A batch buffer that grew past this for a huge record is given back rather than kept.</summary>
    private const int KeepCapacity = 1024 * 1024;

    private readonly AuditOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Entry> _channel;
    private readonly AuditSink _sink;
    private readonly PooledByteBuffer _batch = new(BatchBytes + 4096);
    private readonly List<int> _recordEnds = [];
    private readonly Utf8JsonWriter _json;
    private readonly Task _writer;
    private long _enqueued;
    private long _written;
    private long _failed;
    private long _failedSinceHealthy;
    private bool _sinkFailing;
    private bool _rotationFailing;
    private bool _serializationFailing;
    private int _closedWriteLogged;
    private int _disposed;

    /// <param name="options">Where to write; <see cref="AuditOptions.Path"/> <c>-</c> means <paramref name="standardOutput"/>.</param>
    /// <param name="logger">For the log's own trouble: a sink that fails, a rotation that cannot rename.</param>
    /// <param name="standardOutput">The stream <c>-</c> writes to (tests pass their own); the process's stdout when null. Flushed, never closed.</param>
    public AuditLog(AuditOptions options, ILogger logger, Stream? standardOutput = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxFileBytes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxFiles);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BufferRecords, 1);

        _options = options;
        _logger = logger;
        _sink = options.Path == AuditOptions.StandardOutput
            ? new AuditStreamSink(standardOutput ?? Console.OpenStandardOutput(), "standard output")
            : new AuditFileSink(options.Path, options.MaxFileBytes, options.MaxFiles);
        _channel = Channel.CreateBounded<Entry>(new BoundedChannelOptions(options.BufferRecords)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _json = new Utf8JsonWriter(_batch, AuditRecordJson.WriterOptions);
        _writer = Task.Run(RunAsync);
    }

    /// <summary>Records accepted into the buffer.</summary>
    public long Enqueued => Interlocked.Read(ref _enqueued);

    /// <summary>Records handed to the file or stream.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Records lost: the sink failed, a record could not be serialized, or it arrived after disposal.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Raised once a record is in the buffer, so a flush that follows writes it (tests wait on it rather than poll the file).</summary>
    public event Action? Accepted;

    /// <summary>
    /// Enqueues a record without waiting in the normal case. When the buffer is full this blocks the calling thread
    /// until there is room, which only happens when the disk cannot keep up; callers that can await should use
    /// <see cref="WriteAsync"/>. After disposal the record is counted in <see cref="Failed"/>, never thrown about.
    /// </summary>
    public void Write(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        Interlocked.Increment(ref _enqueued);
        if (_channel.Writer.TryWrite(new Entry(record, null)))
        {
            Accepted?.Invoke();
            return;
        }

        ValueTask waiting = WaitForRoomAsync(record, CancellationToken.None);
        if (waiting.IsCompleted)
        {
            waiting.GetAwaiter().GetResult();
        }
        else
        {
            waiting.AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Enqueues a record; completes synchronously unless the buffer is full, then waits for room.</summary>
    public ValueTask WriteAsync(AuditRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        Interlocked.Increment(ref _enqueued);
        if (_channel.Writer.TryWrite(new Entry(record, null)))
        {
            Accepted?.Invoke();
            return default;
        }

        return WaitForRoomAsync(record, cancellationToken);
    }

    /// <summary>Completes once every record enqueued before the call has been written and flushed (or counted as failed).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await _channel.Writer.WriteAsync(new Entry(null, flushed), cancellationToken);
        }
        catch (ChannelClosedException)
        {
            // Disposing: the writer drains everything before it ends.
            await _writer.WaitAsync(cancellationToken);
            return;
        }

        await flushed.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Stops taking records, then waits until every one already taken has been written and flushed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _channel.Writer.TryComplete();
        }

        await _writer;
    }

    private async ValueTask WaitForRoomAsync(AuditRecord record, CancellationToken cancellationToken)
    {
        try
        {
            await _channel.Writer.WriteAsync(new Entry(record, null), cancellationToken);
            Accepted?.Invoke();
        }
        catch (ChannelClosedException)
        {
            Interlocked.Decrement(ref _enqueued);
            Interlocked.Increment(ref _failed);
            if (Interlocked.Exchange(ref _closedWriteLogged, 1) == 0)
            {
                LogWriteAfterClose(_logger, record.Method);
            }
        }
        catch (OperationCanceledException)
        {
            Interlocked.Decrement(ref _enqueued);
            throw;
        }
    }

    private async Task RunAsync()
    {
        ChannelReader<Entry> reader = _channel.Reader;
        try
        {
            while (await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out Entry entry))
                {
                    if (entry.Record is { } record)
                    {
                        Append(record);
                        if (_batch.Length >= BatchBytes)
                        {
                            WriteBatch(flush: false);
                        }
                    }
                    else
                    {
                        WriteBatch(flush: true);
                        entry.Flushed!.TrySetResult();
                    }
                }

                // The buffer is momentarily empty: whatever is pending goes out now, so a quiet log is never behind.
                WriteBatch(flush: true);
            }
        }
        finally
        {
            _sink.Dispose();
            _json.Dispose();
            _batch.Dispose();
        }
    }

    /// <summary>Serializes one record onto the batch, followed by its newline.</summary>
    private void Append(AuditRecord record)
    {
        int start = _batch.Length;
        try
        {
            _json.Reset(_batch);
            AuditRecordJson.Write(_json, record, _options.IncludeArguments);
            _json.Flush();
            _batch.Write((byte)'\n');
            _recordEnds.Add(_batch.Length);
            _serializationFailing = false;
        }
        catch (Exception ex)
        {
            _batch.Truncate(start);
            Interlocked.Increment(ref _failed);
            if (!_serializationFailing)
            {
                _serializationFailing = true;
                LogSerializationFailed(_logger, record.Method, ex.Message);
            }
        }
    }

    /// <summary>
    /// Hands the batch to the sink, rotating between records so that none is split across files. A failure costs the
    /// records not yet handed over; the sink is let go and opened again for the next batch.
    /// </summary>
    private void WriteBatch(bool flush)
    {
        int count = _recordEnds.Count;
        if (count == 0 && !flush)
        {
            return;
        }

        int done = 0;
        int offset = 0;
        try
        {
            while (done < count)
            {
                _sink.Open();
                int fit = done;
                long room = _sink.Room;
                while (fit < count && _recordEnds[fit] - offset <= room)
                {
                    fit++;
                }

                if (fit == done)
                {
                    if (!_sink.IsEmpty)
                    {
                        string? reason = _sink.Rotate();
                        if (reason is not null && !_rotationFailing)
                        {
                            LogRotationFailed(_logger, _sink.Name, reason);
                        }

                        _rotationFailing = reason is not null;

                        continue;
                    }

                    // Larger than a whole file: alone in a fresh one rather than cut in two.
                    fit = done + 1;
                }

                int end = _recordEnds[fit - 1];
                _sink.Write(_batch.WrittenSpan[offset..end]);
                Interlocked.Add(ref _written, fit - done);
                done = fit;
                offset = end;
            }

            if (flush && (count > 0 || !_sinkFailing))
            {
                _sink.Flush();
            }

            if (_sinkFailing && count > 0)
            {
                _sinkFailing = false;
                LogSinkRecovered(_logger, _sink.Name, _failedSinceHealthy);
                _failedSinceHealthy = 0;
            }
        }
        catch (Exception ex)
        {
            int lost = count - done;
            Interlocked.Add(ref _failed, lost);
            _failedSinceHealthy += lost;
            _sink.Close();
            if (!_sinkFailing)
            {
                _sinkFailing = true;
                LogSinkFailed(_logger, _sink.Name, ex.Message);
            }
        }
        finally
        {
            _recordEnds.Clear();
            _batch.Clear(KeepCapacity);
        }
    }

    /// <summary>A record, or (when <see cref="Record"/> is null) a flush request that completes when reached.</summary>
    private readonly record struct Entry(AuditRecord? Record, TaskCompletionSource? Flushed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The audit log '{Sink}' cannot be written: {Reason} Audit records are lost until it can be opened again.")]
    private static partial void LogSinkFailed(ILogger logger, string sink, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "The audit log '{Sink}' is written again; audit records lost meanwhile: {LostRecords}.")]
    private static partial void LogSinkRecovered(ILogger logger, string sink, long lostRecords);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The audit log '{Sink}' could not be rotated: {Reason} It grows by another full file before the next attempt.")]
    private static partial void LogRotationFailed(ILogger logger, string sink, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "An audit record for '{Method}' could not be serialized and was dropped: {Reason}")]
    private static partial void LogSerializationFailed(ILogger logger, string method, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "An audit record for '{Method}' arrived after the audit log was closed and was dropped.")]
    private static partial void LogWriteAfterClose(ILogger logger, string method);
}
