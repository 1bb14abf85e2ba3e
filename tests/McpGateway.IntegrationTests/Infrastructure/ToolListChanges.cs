using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>
/// Counts the <c>notifications/tools/list_changed</c> a client receives, so a test can wait for one (or for the tool
/// list to reach a state, re-checking on each notice) instead of sleeping. Notices that arrive before a wait are kept.
/// </summary>
internal sealed class ToolListChanges : IAsyncDisposable
{
    private readonly SemaphoreSlim _received = new(0);
    private readonly IAsyncDisposable _registration;
    private int _count;

    private ToolListChanges(McpClient client)
    {
        _registration = client.RegisterNotificationHandler(NotificationMethods.ToolListChangedNotification, (_, _) =>
        {
            Interlocked.Increment(ref _count);
            _received.Release();
            return ValueTask.CompletedTask;
        });
    }

    /// <summary>How many notices have arrived so far.</summary>
    public int Count => Volatile.Read(ref _count);

    public static ToolListChanges Watch(McpClient client) => new(client);

    /// <summary>Forgets the notices received so far: the next wait needs a new one.</summary>
    public void Reset()
    {
        while (_received.Wait(0))
        {
        }
    }

    /// <summary>Waits for the next notice (or one received since the last wait or reset).</summary>
    public async Task NextAsync(CancellationToken cancellationToken)
    {
        if (!await _received.WaitAsync(Patience.HangGuard, cancellationToken))
        {
            Assert.Fail(Patience.Message("a notifications/tools/list_changed"));
        }
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, checking it now and again after every notice; fails when no
    /// notice makes it true within the hang guard. A tool list only changes with a notice, so this needs no polling.
    /// </summary>
    public async Task UntilAsync(Func<Task<bool>> condition, string what, CancellationToken cancellationToken)
    {
        using CancellationTokenSource deadline = Patience.Guard(cancellationToken);
        try
        {
            while (!await condition())
            {
                await _received.WaitAsync(deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"{Patience.Message(what)} ({Count} tools/list_changed received.)");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _registration.DisposeAsync();
        _received.Dispose();
    }
}
