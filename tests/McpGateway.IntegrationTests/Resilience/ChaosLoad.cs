using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Resilience;

/// <summary>What one call of a chaos test got: a result, a JSON-RPC error, or (never acceptable) anything else.</summary>
internal sealed record ChaosOutcome(string Tool, string Tag, JsonObject? Result, McpProtocolException? Error, Exception? Failure)
{
    public string Server => Tool[..Tool.IndexOf('_', StringComparison.Ordinal)];

    /// <summary>True when the call succeeded: a result that is not a tool error.</summary>
    public bool Succeeded => Result is not null && Result["isError"]?.GetValue<bool>() != true;

    /// <summary>The text of a tool error result, or null.</summary>
    public string? ToolError => Result is not null && !Succeeded ? Result["content"]?[0]?["text"]?.GetValue<string>() ?? Result.ToJsonString() : null;

    public override string ToString() =>
        $"{Tool} [{Tag}]: " + (Failure is not null ? $"{Failure.GetType().Name}: {Failure.Message}"
            : Error is not null ? $"error {(int)Error.ErrorCode} {Error.RemoteMessage()}"
            : Succeeded ? "ok " + Result!.ToJsonString()
            : "tool error " + ToolError);
}

/// <summary>
/// Sessions calling tools one after another, each call carrying a tag of its own, until told to stop; every call's
/// outcome is kept. The test waits on progress (a number of calls answered) instead of on time.
/// </summary>
internal sealed class ChaosLoad
{
    private readonly ConcurrentQueue<ChaosOutcome> _outcomes = new();
    private readonly ConcurrentDictionary<string, string> _inFlight = new(StringComparer.Ordinal);
    private readonly List<(int Target, TaskCompletionSource Reached)> _waiters = [];
    private readonly List<Task> _sessions = [];
    private int _answered;
    private volatile bool _stopping;

    public IReadOnlyCollection<ChaosOutcome> Outcomes => _outcomes;

    /// <summary>Calls started and not answered yet (tag → tool).</summary>
    public IReadOnlyDictionary<string, string> InFlight => _inFlight;

    public int Answered => Volatile.Read(ref _answered);

    /// <summary>Starts a session's loop: call <paramref name="next"/>(n) for n = 0, 1, … on <paramref name="path"/>.</summary>
    public void Run(string name, McpClient client, CallPath path, Func<int, string, (string Tool, JsonObject Arguments)> next, CancellationToken cancellationToken) =>
        _sessions.Add(Task.Run(async () =>
        {
            for (int n = 0; !_stopping; n++)
            {
                string tag = $"{name}-{n}";
                (string tool, JsonObject arguments) = next(n, tag);
                Record(await CallAsync(client, path, tool, tag, arguments, cancellationToken));
            }
        }, cancellationToken));

    /// <summary>One call, recorded as any of the load's (for calls the test makes itself).</summary>
    public async Task<ChaosOutcome> CallAsync(McpClient client, CallPath path, string tool, string tag, JsonObject arguments, CancellationToken cancellationToken)
    {
        _inFlight[tag] = tool;
        ChaosOutcome outcome;
        try
        {
            (JsonObject? result, McpProtocolException? error) = await ResilienceHelpers.CallAsync(client, path, tool, arguments, cancellationToken);
            outcome = new ChaosOutcome(tool, tag, result, error, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            outcome = new ChaosOutcome(tool, tag, null, null, ex);
        }

        _inFlight.TryRemove(tag, out _);
        return outcome;
    }

    /// <summary>Completes once <paramref name="count"/> more calls than now have been answered.</summary>
    public Task MoreAnsweredAsync(int count)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            int target = Answered + count;
            _waiters.Add((target, reached));
        }

        Notify();
        return reached.Task;
    }

    /// <summary>Lets every session finish the call it is making, and waits for them.</summary>
    public Task StopAsync()
    {
        _stopping = true;
        return Task.WhenAll(_sessions);
    }

    private void Record(ChaosOutcome outcome)
    {
        _outcomes.Enqueue(outcome);
        Interlocked.Increment(ref _answered);
        Notify();
    }

    private void Notify()
    {
        lock (_waiters)
        {
            int answered = Answered;
            foreach ((int target, TaskCompletionSource reached) in _waiters.Where(w => w.Target <= answered).ToList())
            {
                reached.TrySetResult();
                _waiters.Remove((target, reached));
            }
        }
    }
}
