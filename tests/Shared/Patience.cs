namespace McpGateway.Testing;

/// <summary>
/// The one bound on a test's "wait until it happens". What the tests wait for (a line, a notice, a reload, a process
/// exit) takes milliseconds on a quiet machine and seconds on a loaded one; this is minutes past that, so reaching it
/// means a hang, never a slow machine, and the failure says what was awaited. It is never a measure of how long
/// anything should take: no test waits for time to pass.
/// </summary>
internal static class Patience
{
    public static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(3);

    /// <summary>"3 min", for failure messages.</summary>
    public static string Describe => $"{HangGuard.TotalMinutes:0.#} min";

    /// <summary>Awaits <paramref name="task"/>; fails the test naming <paramref name="what"/> when it has not completed within <see cref="HangGuard"/>.</summary>
    public static async Task Within(this Task task, string what, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(HangGuard, cancellationToken);
        }
        catch (TimeoutException)
        {
            Assert.Fail(Message(what));
        }
    }

    /// <inheritdoc cref="Within(Task, string, CancellationToken)"/>
    public static async Task<T> Within<T>(this Task<T> task, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await task.WaitAsync(HangGuard, cancellationToken);
        }
        catch (TimeoutException)
        {
            Assert.Fail(Message(what));
            throw;
        }
    }

    /// <summary>A token cancelled by <paramref name="cancellationToken"/> or after <see cref="HangGuard"/>, for waits that take a token.</summary>
    public static CancellationTokenSource Guard(CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(HangGuard);
        return deadline;
    }

    /// <summary>The failure message of a wait that reached the hang guard.</summary>
    public static string Message(string what) => $"Waited {Describe} for {what}: taken as a hang.";
}
