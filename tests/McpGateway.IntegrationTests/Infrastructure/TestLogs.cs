using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>Keeps every log line of an in-process gateway so tests can assert on what it logged.</summary>
internal sealed class TestLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public string All => string.Join(Environment.NewLine, _lines);

    /// <summary>
    /// What reached the host unhandled: Kestrel's "unhandled exception was thrown by the application" (a request that
    /// failed past every handler) and the gateway's own "Unexpected failure" (an exception its request filter did not
    /// expect); what downstream servers log about themselves (their stderr) is theirs. A test that asserts this is
    /// empty proves neither happened while it ran.
    /// </summary>
    public IReadOnlyList<string> Unhandled =>
        [.. _lines.Where(l =>
            (l.StartsWith("Error Microsoft.AspNetCore", StringComparison.Ordinal) && l.Contains("unhandled exception", StringComparison.OrdinalIgnoreCase)) ||
            l.StartsWith("Error McpGateway.Gateway.GatewayRequestFilter: Unexpected failure handling", StringComparison.Ordinal))];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(TestLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? string.Empty : " " + exception.Message)}");
    }
}
