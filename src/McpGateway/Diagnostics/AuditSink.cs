namespace McpGateway.Diagnostics;

/// <summary>
/// Where the audit writer's batches go. Only the writer task calls it, so nothing here is thread-safe. Failures are
/// exceptions; the writer counts the records they cost and calls <see cref="Open"/> again on the next batch.
/// </summary>
internal abstract class AuditSink : IDisposable
{
    /// <summary>How the sink is named in log messages.</summary>
    public abstract string Name { get; }

    /// <summary>The bytes that may still be written before the sink must rotate.</summary>
    public virtual long Room => long.MaxValue;

    /// <summary>Nothing has been written to the current file: a record too large for any file goes here whole.</summary>
    public virtual bool IsEmpty => false;

    /// <summary>Makes sure the sink can be written to; throws when it cannot.</summary>
    public virtual void Open()
    {
    }

    public abstract void Write(ReadOnlySpan<byte> bytes);

    public abstract void Flush();

    /// <summary>Starts a new file; returns why it could not (the sink then goes on in the current one), or null.</summary>
    public virtual string? Rotate() => null;

    /// <summary>Lets go of a sink that failed, so that <see cref="Open"/> starts afresh; never throws.</summary>
    public virtual void Close()
    {
    }

    public abstract void Dispose();
}

/// <summary>A stream the log does not own (standard output): flushed, never closed.</summary>
internal sealed class AuditStreamSink(Stream stream, string name) : AuditSink
{
    public override string Name => name;

    public override void Write(ReadOnlySpan<byte> bytes) => stream.Write(bytes);

    public override void Flush() => stream.Flush();

    public override void Dispose()
    {
        try
        {
            stream.Flush();
        }
        catch (Exception)
        {
            // Standard output closed under us at shutdown: the records were already counted.
        }
    }
}
