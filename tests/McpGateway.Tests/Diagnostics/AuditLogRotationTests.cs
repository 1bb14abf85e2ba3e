using System.Globalization;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging;

namespace McpGateway.Tests.Diagnostics;

public sealed class AuditLogRotationTests : IDisposable
{
    private const long MaxFileBytes = 4096;

    private readonly TempFolder _folder = new();
    private readonly ListLogger _logger = new();

    public void Dispose() => _folder.Dispose();

    private string AuditPath => _folder.File("audit.jsonl");

    [Fact]
    public async Task Rotate_EnoughFilesKept_EveryRecordIsFoundOnceInOrderAndNoFileIsTooLarge()
    {
        await WriteAsync(count: 1_000, maxFiles: 1_000);

        string[] files = RotatedOldestFirst();
        Assert.True(files.Length > 10, $"only {files.Length} files");
        string[] lines = [.. files.SelectMany(AuditFixture.Lines)];
        Assert.Equal(Enumerable.Range(0, 1_000).Select(Number), lines.Select(AuditFixture.ItemOf));
        Assert.All(files, file => Assert.InRange(new FileInfo(file).Length, 1, MaxFileBytes));
        Assert.Empty(_logger.At(LogLevel.Warning));
    }

    [Fact]
    public async Task Rotate_MoreFilesThanKept_DropsTheOldestAndKeepsTheNewestRecords()
    {
        await WriteAsync(count: 1_000, maxFiles: 3);

        Assert.True(File.Exists(AuditPath));
        Assert.All(Enumerable.Range(1, 3), i => Assert.True(File.Exists($"{AuditPath}.{i}"), $".{i} missing"));
        Assert.Equal(4, Directory.GetFiles(_folder.Path).Length);
        int[] items = [.. RotatedOldestFirst().SelectMany(AuditFixture.Lines).Select(l => int.Parse(AuditFixture.ItemOf(l), CultureInfo.InvariantCulture))];
        Assert.Equal(999, items[^1]);
        Assert.Equal(Enumerable.Range(items[0], items.Length), items);
    }

    [Fact]
    public async Task Rotate_NoFilesKept_StartsAnEmptyFileEachTime()
    {
        await WriteAsync(count: 100, maxFiles: 0);

        string file = Assert.Single(Directory.GetFiles(_folder.Path));
        Assert.Equal(AuditPath, file);
        Assert.Equal("99", AuditFixture.ItemOf(AuditFixture.Lines(AuditPath)[^1]));
    }

    [Fact]
    public async Task Rotate_RecordLargerThanAFile_GoesWholeIntoAFileOfItsOwn()
    {
        await using (var log = new AuditLog(new AuditOptions { Path = AuditPath, MaxFileBytes = 512, MaxFiles = 10 }, _logger))
        {
            log.Write(AuditFixture.Record("small"));
            log.Write(AuditFixture.Record(new string('x', 2000)));
            log.Write(AuditFixture.Record("after"));
        }

        Assert.Equal("small", AuditFixture.ItemOf(Assert.Single(AuditFixture.Lines(AuditPath + ".2"))));
        Assert.Equal(2000, AuditFixture.ItemOf(Assert.Single(AuditFixture.Lines(AuditPath + ".1"))).Length);
        Assert.Equal("after", AuditFixture.ItemOf(Assert.Single(AuditFixture.Lines(AuditPath))));
    }

    [Fact]
    public async Task Rotate_ExistingFileAlreadyFull_IsRotatedBeforeTheFirstRecord()
    {
        await File.WriteAllTextAsync(AuditPath, new string('#', (int)MaxFileBytes) + "\n", TestContext.Current.CancellationToken);

        await WriteAsync(count: 1, maxFiles: 5);

        Assert.StartsWith("###", await File.ReadAllTextAsync(AuditPath + ".1", TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Single(AuditFixture.Lines(AuditPath));
    }

    [Fact]
    public async Task Rotate_RenameFails_KeepsWritingTheCurrentFileAndWarnsOnce()
    {
        // A non-empty folder where the rotated file should go: neither deleted nor replaced.
        Directory.CreateDirectory(AuditPath + ".1");
        await File.WriteAllTextAsync(Path.Combine(AuditPath + ".1", "keep"), "x", TestContext.Current.CancellationToken);

        AuditLog log = await WriteAsync(count: 200, maxFiles: 1);

        Assert.Equal(200, AuditFixture.Lines(AuditPath).Length);
        Assert.Equal(200, log.Written);
        Assert.Equal(0, log.Failed);
        string warning = Assert.Single(_logger.At(LogLevel.Warning));
        Assert.Contains("could not be rotated", warning, StringComparison.Ordinal);
    }

    private async Task<AuditLog> WriteAsync(int count, int maxFiles)
    {
        var log = new AuditLog(new AuditOptions { Path = AuditPath, MaxFileBytes = MaxFileBytes, MaxFiles = maxFiles, BufferRecords = 64 }, _logger);
        for (int i = 0; i < count; i++)
        {
            log.Write(AuditFixture.Record(Number(i)));
        }

        await log.DisposeAsync();
        return log;
    }

    private static string Number(int i) => i.ToString(CultureInfo.InvariantCulture);

    /// <summary>The rotated files from oldest (highest number) to the current one.</summary>
    private string[] RotatedOldestFirst() =>
    [
        .. Directory.GetFiles(_folder.Path)
            .Where(f => f != AuditPath)
            .OrderByDescending(f => int.Parse(f.AsSpan(AuditPath.Length + 1), CultureInfo.InvariantCulture)),
        AuditPath,
    ];
}
