using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging;

namespace McpGateway.Tests.Diagnostics;

/// <summary>Records, a folder to write them in, and a way to read them back.</summary>
internal static class AuditFixture
{
    public static readonly DateTimeOffset Time = new DateTimeOffset(2026, 7, 28, 11, 15, 2, 123, TimeSpan.FromHours(2)).AddTicks(4567);

    public static AuditRecord Record(string item = "github_create_issue") => new()
    {
        Time = Time,
        Agent = "researcher",
        IdentitySource = AuditIdentitySources.ApiKey,
        CredentialId = "key-7",
        Method = "tools/call",
        Server = "github",
        Item = item,
        OriginalItem = "create_issue",
        Decision = AuditDecisions.Allowed,
        Rule = "agents.researcher.allow.tools.github[0]",
        Outcome = AuditOutcome.Result,
        LatencyMs = 12.5,
        RequestBytes = 180,
        ResponseBytes = 2048,
    };

    public static string Serialize(AuditRecord record, bool includeArguments = true)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, AuditRecordJson.WriterOptions))
        {
            AuditRecordJson.Write(writer, record, includeArguments);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static string[] Lines(string path)
    {
        string text = File.ReadAllText(path, Encoding.UTF8);
        Assert.True(text.Length == 0 || text.EndsWith('\n'), "the file does not end with a newline");
        return text.Length == 0 ? [] : text[..^1].Split('\n');
    }

    public static string ItemOf(string line)
    {
        using var document = JsonDocument.Parse(line);
        return document.RootElement.GetProperty("item").GetString()!;
    }
}

/// <summary>A folder under the temporary directory, deleted with everything in it.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("audit-tests-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Left behind in the temporary directory; not worth failing a test for.
        }
    }
}

/// <summary>A logger that keeps what it was told.</summary>
internal sealed class ListLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public IReadOnlyList<string> At(LogLevel level) => [.. Entries.Where(e => e.Level == level).Select(e => e.Message)];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, formatter(state, exception)));
}
