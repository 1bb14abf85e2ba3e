namespace McpGateway.Diagnostics;

/// <summary>
/// An append-only file rotated by size: <c>audit.jsonl</c> is current, <c>audit.jsonl.1</c> the newest full one, and
/// files past <c>maxFiles</c> are deleted. Writes are unbuffered because the writer already hands over whole
/// batches, so a record written is with the operating system, not in a buffer a crash would lose.
/// </summary>
internal sealed class AuditFileSink(string path, long maxFileBytes, int maxFiles) : AuditSink
{
    private readonly string _path = Path.GetFullPath(path);
    private readonly long _maxFileBytes = maxFileBytes;
    private FileStream? _stream;
    private long _length;
    private long _limit = maxFileBytes;

    public override string Name => _path;

    public override long Room => _limit - _length;

    public override bool IsEmpty => _length == 0;

    public override void Open()
    {
        if (_stream is not null)
        {
            return;
        }

        string? folder = Path.GetDirectoryName(_path);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            // Who called what is nobody else's business: owner-only, like a credentials file.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        _stream = new FileStream(_path, options);
        _length = _stream.Length;
    }

    public override void Write(ReadOnlySpan<byte> bytes)
    {
        FileStream stream = _stream ?? throw new InvalidOperationException("The audit file is not open.");
        stream.Write(bytes);
        _length += bytes.Length;
    }

    public override void Flush() => _stream?.Flush();

    public override string? Rotate()
    {
        // Closed before renaming: Windows does not rename open files.
        _stream?.Dispose();
        _stream = null;
        try
        {
            if (maxFiles == 0)
            {
                File.Delete(_path);
            }
            else
            {
                File.Delete(Numbered(maxFiles));
                for (int i = maxFiles - 1; i >= 1; i--)
                {
                    if (File.Exists(Numbered(i)))
                    {
                        File.Move(Numbered(i), Numbered(i + 1), overwrite: true);
                    }
                }

                File.Move(_path, Numbered(1), overwrite: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Losing records to a stuck rename would be worse than a file that grows: go on in this one and try
            // again once it has grown by another full file.
            _limit = _length + _maxFileBytes;
            return ex.Message;
        }

        _length = 0;
        _limit = _maxFileBytes;
        return null;
    }

    public override void Close()
    {
        try
        {
            _stream?.Dispose();
        }
        catch (Exception)
        {
            // The file already failed; closing it is best effort.
        }

        _stream = null;
    }

    public override void Dispose() => Close();

    private string Numbered(int index) => _path + "." + index.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
