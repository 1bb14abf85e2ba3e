using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging;

namespace McpGateway.Tests.Diagnostics;

public sealed class AuditLogFailureTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly ListLogger _logger = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Write_FolderInTheWay_CountsFailedLogsOnceAndRecoversWhenItIsGone()
    {
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;
        string path = _folder.File("audit.jsonl");
        Directory.CreateDirectory(path);
        await using var log = new AuditLog(new AuditOptions { Path = path }, _logger);

        for (int i = 0; i < 3; i++)
        {
            log.Write(AuditFixture.Record());
            await log.FlushAsync(cancellationToken);
        }

        Assert.Equal(3, log.Failed);
        Assert.Equal(0, log.Written);
        string warning = Assert.Single(_logger.At(LogLevel.Warning));
        Assert.Contains(path, warning, StringComparison.Ordinal);

        Directory.Delete(path);
        log.Write(AuditFixture.Record("back"));
        await log.FlushAsync(cancellationToken);

        Assert.Equal(1, log.Written);
        Assert.Equal("back", AuditFixture.ItemOf(Assert.Single(AuditFixture.Lines(path))));
        Assert.Contains("audit records lost meanwhile: 3", Assert.Single(_logger.At(LogLevel.Information)), StringComparison.Ordinal);
        Assert.Single(_logger.At(LogLevel.Warning));
    }

    [Fact]
    public async Task Write_StreamThatThrows_CountsFailedAndKeepsTheWriterAlive()
    {
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;
        using var output = new FailingStream { Failing = true };
        await using var log = new AuditLog(new AuditOptions { Path = "-" }, _logger, output);

        log.Write(AuditFixture.Record("lost"));
        await log.FlushAsync(cancellationToken);
        output.Failing = false;
        log.Write(AuditFixture.Record("kept"));
        await log.FlushAsync(cancellationToken);

        Assert.Equal(1, log.Failed);
        Assert.Equal(1, log.Written);
        Assert.Equal("kept", AuditFixture.ItemOf(System.Text.Encoding.UTF8.GetString(output.ToArray()).TrimEnd('\n')));
    }

    [Fact]
    public async Task Write_RecordThatCannotBeSerialized_IsDroppedAloneAndLogged()
    {
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;
        using var output = new MemoryStream();
        await using var log = new AuditLog(new AuditOptions { Path = "-" }, _logger, output);

        log.Write(AuditFixture.Record("before"));
        log.Write(new AuditRecord
        {
            Time = AuditFixture.Time,
            IdentitySource = AuditIdentitySources.None,
            Method = "tools/call",
            Decision = AuditDecisions.Allowed,
            Outcome = (AuditOutcome)99,
        });
        log.Write(AuditFixture.Record("after"));
        await log.FlushAsync(cancellationToken);

        string[] lines = System.Text.Encoding.UTF8.GetString(output.ToArray()).TrimEnd('\n').Split('\n');
        Assert.Equal(["before", "after"], lines.Select(AuditFixture.ItemOf));
        Assert.Equal(1, log.Failed);
        Assert.Contains("tools/call", Assert.Single(_logger.At(LogLevel.Error)), StringComparison.Ordinal);
    }
}

internal sealed class FailingStream : MemoryStream
{
    public volatile bool Failing;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (Failing)
        {
            throw new IOException("Broken pipe");
        }

        base.Write(buffer);
    }

    public override void Flush()
    {
        if (Failing)
        {
            throw new IOException("Broken pipe");
        }
    }
}
