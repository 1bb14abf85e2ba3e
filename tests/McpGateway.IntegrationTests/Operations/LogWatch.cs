using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace McpGateway.IntegrationTests.Operations;

/// <summary>
/// An in-process gateway's log lines, with a way to wait for one (<see cref="TestLogs"/> only keeps them). Added as
/// one more logger provider through <c>configureServices</c>.
/// </summary>
internal sealed class LogWatch : ILoggerProvider
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public LineLog Lines { get; } = new();

    public void AddTo(IServiceCollection services) => services.AddSingleton<ILoggerProvider>(this);

    /// <summary>The first line (already logged or still to come) that holds <paramref name="text"/>.</summary>
    public Task<string> WaitForAsync(string text, CancellationToken cancellationToken) =>
        WaitForAsync(line => line.Contains(text, StringComparison.Ordinal), $"a line holding '{text}'", cancellationToken);

    /// <summary>The first line (already logged or still to come) that matches.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> predicate, string what, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(DefaultTimeout);
        try
        {
            return await Lines.WaitForAsync(predicate, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"Waited {DefaultTimeout.TotalSeconds} s for {what} in the log:{Environment.NewLine}{Lines}");
            throw;
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogWatch owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Add($"{logLevel} {category}: {formatter(state, exception)}");
    }
}
