using Microsoft.Extensions.Logging;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>Keeps every log line of an in-process gateway so tests can assert on what it logged, and wait for a line.</summary>
internal sealed class TestLogs : ILoggerProvider
{
    private readonly LineLog _log = new();

    public IReadOnlyCollection<string> Lines => _log.Lines;

    public string All => _log.ToString();

    /// <summary>The first line (already logged or still to come) that matches.</summary>
    public Task<string> WaitForAsync(Func<string, bool> predicate, string what, CancellationToken cancellationToken) =>
        _log.WaitForAsync(predicate, what, cancellationToken);

    /// <summary>The first line (already logged or still to come) that holds <paramref name="text"/>.</summary>
    public Task<string> WaitForAsync(string text, CancellationToken cancellationToken) =>
        _log.WaitForAsync(line => line.Contains(text, StringComparison.Ordinal), $"a log line holding '{text}'", cancellationToken);

    /// <summary>Waits until the lines logged so far satisfy <paramref name="condition"/>.</summary>
    public Task UntilAsync(Func<IReadOnlyCollection<string>, bool> condition, string what, CancellationToken cancellationToken) =>
        _log.UntilAsync(condition, what, cancellationToken);

    /// <summary>
    /// What reached the host unhandled: Kestrel's "unhandled exception was thrown by the application" (a request that
    /// failed past every handler) and the gateway's own "Unexpected failure" (an exception its request filter did not
    /// expect); what downstream servers log about themselves (their stderr) is theirs. A test that asserts this is
    /// empty proves neither happened while it ran.
    /// </summary>
    public IReadOnlyList<string> Unhandled =>
        [.. _log.Lines.Where(l =>
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
            owner._log.Add($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? string.Empty : " " + exception.Message)}");
    }
}
