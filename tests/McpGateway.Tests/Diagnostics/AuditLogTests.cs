using System.Text;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging;

namespace McpGateway.Tests.Diagnostics;

public sealed class AuditLogTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly ListLogger _logger = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Write_ThenFlush_AppendsOneLinePerRecordAsUtf8WithoutBom()
    {
        string path = _folder.File("audit.jsonl");
        await using var log = new AuditLog(new AuditOptions { Path = path }, _logger);

        log.Write(AuditFixture.Record("first"));
        log.Write(AuditFixture.Record("second"));
        await log.FlushAsync(TestContext.Current.CancellationToken);

        byte[] bytes = await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken);
        Assert.Equal((byte)'{', bytes[0]);
        string[] lines = AuditFixture.Lines(path);
        Assert.Equal(["first", "second"], lines.Select(AuditFixture.ItemOf));
        Assert.Equal(AuditFixture.Serialize(AuditFixture.Record("first"), includeArguments: false), lines[0]);
        Assert.Equal(2, log.Enqueued);
        Assert.Equal(2, log.Written);
        Assert.Equal(0, log.Failed);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Write_Arguments_AreWrittenOnlyWhenTheOperatorAskedForThem(bool includeArguments)
    {
        using var output = new MemoryStream();
        await using var log = new AuditLog(new AuditOptions { Path = "-", IncludeArguments = includeArguments }, _logger, output);
        AuditRecord record = AuditFixture.Record();

        log.Write(new AuditRecord
        {
            Time = record.Time,
            IdentitySource = record.IdentitySource,
            Method = record.Method,
            Decision = record.Decision,
            Outcome = record.Outcome,
            Item = "x",
            Arguments = AuditRedaction.RedactArguments(System.Text.Json.Nodes.JsonNode.Parse("""{"q": "a", "token": "t"}""")),
        });
        await log.FlushAsync(TestContext.Current.CancellationToken);

        string line = Encoding.UTF8.GetString(output.ToArray());
        if (includeArguments)
        {
            Assert.Contains("\"arguments\":{\"q\":\"a\",\"token\":\"[redacted]\"}", line, StringComparison.Ordinal);
        }
        else
        {
            Assert.DoesNotContain("arguments", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Open_MissingFolder_IsCreated()
    {
        string path = Path.Combine(_folder.Path, "logs", "gateway", "audit.jsonl");
        await using var log = new AuditLog(new AuditOptions { Path = path }, _logger);

        log.Write(AuditFixture.Record());
        await log.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Single(AuditFixture.Lines(path));
    }

    [Fact]
    public async Task Open_ExistingFile_IsAppendedTo()
    {
        string path = _folder.File("audit.jsonl");
        await File.WriteAllTextAsync(path, "{\"old\":true}\n", TestContext.Current.CancellationToken);
        await using var log = new AuditLog(new AuditOptions { Path = path }, _logger);

        log.Write(AuditFixture.Record("new"));
        await log.FlushAsync(TestContext.Current.CancellationToken);

        string[] lines = AuditFixture.Lines(path);
        Assert.Equal("{\"old\":true}", lines[0]);
        Assert.Equal("new", AuditFixture.ItemOf(lines[1]));
    }

    [Fact]
    public async Task Open_NewFile_IsReadableByTheOwnerOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Unix permissions");
        }

        string path = _folder.File("audit.jsonl");
        await using var log = new AuditLog(new AuditOptions { Path = path }, _logger);

        log.Write(AuditFixture.Record());
        await log.FlushAsync(TestContext.Current.CancellationToken);

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Write_SixteenWritersThroughASmallBuffer_LoseNothingAndDuplicateNothing(bool awaitRoom)
    {
        const int Writers = 16;
        const int PerWriter = 10_000;
        string path = _folder.File("audit.jsonl");
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;
        await using var log = new AuditLog(new AuditOptions { Path = path, BufferRecords = 64 }, _logger);

        Task[] writers = [.. Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < PerWriter; i++)
            {
                AuditRecord record = AuditFixture.Record($"{w}:{i}");
                if (awaitRoom)
                {
                    await log.WriteAsync(record, cancellationToken);
                }
                else
                {
                    log.Write(record);
                }
            }
        }, cancellationToken))];
        await Task.WhenAll(writers);
        await log.FlushAsync(cancellationToken);

        string[] lines = AuditFixture.Lines(path);
        Assert.Equal(Writers * PerWriter, lines.Length);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int[] next = new int[Writers];
        foreach (string line in lines)
        {
            string item = AuditFixture.ItemOf(line);
            Assert.True(seen.Add(item), $"{item} written twice");
            // Each writer's own records keep their order.
            string[] parts = item.Split(':');
            int writer = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(next[writer]++, int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.Equal(Writers * PerWriter, log.Enqueued);
        Assert.Equal(Writers * PerWriter, log.Written);
        Assert.Equal(0, log.Failed);
    }

    [Fact]
    public async Task WriteAsync_BufferFull_WaitsForRoomInsteadOfDropping()
    {
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;
        using var output = new GatedStream();
        await using var log = new AuditLog(new AuditOptions { Path = "-", BufferRecords = 2 }, _logger, output);

        log.Write(AuditFixture.Record("0"));
        await output.Entered.WaitAsync(cancellationToken);
        // The writer holds record 0 in the gated stream; the buffer takes two more, then callers wait.
        await log.WriteAsync(AuditFixture.Record("1"), cancellationToken);
        await log.WriteAsync(AuditFixture.Record("2"), cancellationToken);
        ValueTask third = log.WriteAsync(AuditFixture.Record("3"), cancellationToken);
        Assert.False(third.IsCompleted);

        output.Open();
        await third;
        await log.FlushAsync(cancellationToken);

        Assert.Equal(["0", "1", "2", "3"], output.Lines().Select(AuditFixture.ItemOf));
        Assert.Equal(0, log.Failed);
    }

    [Fact]
    public async Task WriteAsync_CancelledWhileWaitingForRoom_ThrowsAndIsNotCounted()
    {
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;
        using var output = new GatedStream();
        await using var log = new AuditLog(new AuditOptions { Path = "-", BufferRecords = 1 }, _logger, output);
        log.Write(AuditFixture.Record("0"));
        await output.Entered.WaitAsync(cancellationToken);
        log.Write(AuditFixture.Record("1"));
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        ValueTask waiting = log.WriteAsync(AuditFixture.Record("2"), cancel.Token);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await waiting);
        Assert.Equal(2, log.Enqueued);
        output.Open();
        await log.FlushAsync(cancellationToken);
        Assert.Equal(["0", "1"], output.Lines().Select(AuditFixture.ItemOf));
    }

    [Fact]
    public async Task DisposeAsync_WritesEverythingEnqueuedBeforeIt()
    {
        string path = _folder.File("audit.jsonl");
        var log = new AuditLog(new AuditOptions { Path = path, BufferRecords = 256 }, _logger);
        for (int i = 0; i < 5_000; i++)
        {
            log.Write(AuditFixture.Record(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        await log.DisposeAsync();

        string[] lines = AuditFixture.Lines(path);
        Assert.Equal(5_000, lines.Length);
        Assert.Equal("4999", AuditFixture.ItemOf(lines[^1]));
        Assert.Equal(5_000, log.Written);
    }

    [Fact]
    public async Task Write_AfterDispose_IsCountedAsFailedAndLoggedOnceWithoutThrowing()
    {
        var log = new AuditLog(new AuditOptions { Path = _folder.File("audit.jsonl") }, _logger);
        await log.DisposeAsync();

        log.Write(AuditFixture.Record());
        await log.WriteAsync(AuditFixture.Record(), TestContext.Current.CancellationToken);
        await log.FlushAsync(TestContext.Current.CancellationToken);
        await log.DisposeAsync();

        Assert.Equal(2, log.Failed);
        Assert.Equal(0, log.Enqueued);
        Assert.Single(_logger.At(LogLevel.Warning));
    }

    [Fact]
    public async Task StandardOutput_GetsTheLines_AndIsNotClosed()
    {
        using var output = new MemoryStream();
        var log = new AuditLog(new AuditOptions { Path = AuditOptions.StandardOutput }, _logger, output);

        log.Write(AuditFixture.Record("a"));
        log.Write(AuditFixture.Record("b"));
        await log.FlushAsync(TestContext.Current.CancellationToken);
        string flushed = Encoding.UTF8.GetString(output.ToArray());
        await log.DisposeAsync();

        Assert.Equal(["a", "b"], flushed.TrimEnd('\n').Split('\n').Select(AuditFixture.ItemOf));
        Assert.EndsWith("}\n", flushed, StringComparison.Ordinal);
        Assert.True(output.CanWrite);
    }

    [Fact]
    public async Task FlushAsync_NothingWritten_CompletesAtOnce()
    {
        await using var log = new AuditLog(new AuditOptions { Path = _folder.File("audit.jsonl") }, _logger);

        await log.FlushAsync(TestContext.Current.CancellationToken);

        Assert.False(File.Exists(_folder.File("audit.jsonl")));
    }

    [Theory]
    [InlineData(0, 5, 1)]
    [InlineData(1024, -1, 1)]
    [InlineData(1024, 5, 0)]
    public void Constructor_OutOfRangeOptions_Throw(long maxFileBytes, int maxFiles, int bufferRecords) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new AuditLog(
            new AuditOptions { Path = _folder.File("audit.jsonl"), MaxFileBytes = maxFileBytes, MaxFiles = maxFiles, BufferRecords = bufferRecords },
            _logger));
}

/// <summary>A stream whose writes wait until the test opens it: the writer task stalls, and the buffer fills.</summary>
internal sealed class GatedStream : MemoryStream
{
    private readonly ManualResetEventSlim _open = new();
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();

    /// <summary>Completes when the writer first tries to write.</summary>
    public Task Entered => _entered.Task;

    public void Open() => _open.Set();

    public string[] Lines()
    {
        lock (_lock)
        {
            return Encoding.UTF8.GetString(ToArray()).TrimEnd('\n').Split('\n');
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _entered.TrySetResult();
        _open.Wait();
        lock (_lock)
        {
            base.Write(buffer);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _open.Set();
            _open.Dispose();
        }

        base.Dispose(disposing);
    }
}
