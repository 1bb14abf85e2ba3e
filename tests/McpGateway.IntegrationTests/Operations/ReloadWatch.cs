using System.Collections.Concurrent;
using McpGateway.Configuration;
using McpGateway.Hosting;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace McpGateway.IntegrationTests.Operations;

/// <summary>
/// Collects the outcomes of an in-process gateway's reloads (<see cref="ConfigurationReloader.Reloaded"/>), so a test
/// that edits a file waits for the reload it causes instead of for time.
/// </summary>
internal sealed class ReloadWatch : IDisposable
{
    private readonly ConfigurationReloader _reloader;
    private readonly ConcurrentQueue<ReloadOutcome> _pending = new();
    private readonly List<ReloadOutcome> _seen = [];
    private readonly SemaphoreSlim _arrived = new(0);

    private ReloadWatch(ConfigurationReloader reloader)
    {
        _reloader = reloader;
        _reloader.Reloaded += OnReloaded;
    }

    /// <summary>Starts collecting; call it before editing the file.</summary>
    public static ReloadWatch On(InProcessGateway gateway) => new(gateway.Services.GetRequiredService<ConfigurationReloader>());

    /// <summary>Waits for the first reload since the watch started (or the last wait) that <paramref name="condition"/> accepts.</summary>
    public async Task<ReloadOutcome> UntilAsync(Func<ReloadOutcome, bool> condition, string what, CancellationToken cancellationToken)
    {
        using CancellationTokenSource deadline = Patience.Guard(cancellationToken);
        try
        {
            while (true)
            {
                await _arrived.WaitAsync(deadline.Token);
                Assert.True(_pending.TryDequeue(out ReloadOutcome? outcome));
                _seen.Add(outcome);
                if (condition(outcome))
                {
                    return outcome;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            string seen = string.Join("; ", _seen.Select(o => $"{(o.Succeeded ? "applied" : "refused")} [{string.Join(" | ", o.Errors.Concat(o.Notes))}]"));
            Assert.Fail(Patience.Message($"a reload {what}") + $" Reloads seen: {(seen.Length == 0 ? "none" : seen)}.");
            throw;
        }
    }

    /// <summary>The next reload that applied a configuration.</summary>
    public Task<ReloadOutcome> AppliedAsync(CancellationToken cancellationToken) =>
        UntilAsync(o => o.Succeeded, "that applied the new configuration", cancellationToken);

    private void OnReloaded(ReloadOutcome outcome)
    {
        _pending.Enqueue(outcome);
        _arrived.Release();
    }

    public void Dispose() => _reloader.Reloaded -= OnReloaded;
}
