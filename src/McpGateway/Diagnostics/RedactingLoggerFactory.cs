using System.Text;
using Microsoft.Extensions.Logging;

namespace McpGateway.Diagnostics;

/// <summary>
/// The logger factory the SDK's downstream clients and transports get. Their messages quote what servers sent: the SDK
/// logs a failed connection at Error with the exception, whose message holds the server's whole HTTP error body
/// (often echoing the request's credentials). Every line from them becomes one bounded, redacted excerpt
/// (<see cref="AuditRedaction.Excerpt"/>) of the message and the exception's messages, without the stack trace.
/// </summary>
internal sealed class RedactingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    /// <summary>Long enough for what the SDK says about itself; the quoted remote text is what gets cut.</summary>
    public const int MaxMessageLength = 400;

    public ILogger CreateLogger(string categoryName) => new RedactingLogger(inner.CreateLogger(categoryName));

    // The inner factory belongs to the host; adding providers here would add them there.
    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("Add logging providers to the host's logger factory.");

    public void Dispose()
    {
    }

    private sealed class RedactingLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!inner.IsEnabled(logLevel))
            {
                return;
            }

            var text = new StringBuilder(formatter(state, exception));
            for (Exception? cause = exception; cause is not null; cause = cause.InnerException)
            {
                text.Append(' ').Append(cause.GetType().Name).Append(": ").Append(cause.Message);
            }

            inner.Log(logLevel, eventId, AuditRedaction.Excerpt(text.ToString(), MaxMessageLength), null, static (message, _) => message);
        }
    }
}
