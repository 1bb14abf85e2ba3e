using System.Threading.RateLimiting;

namespace McpGateway.Gateway;

/// <summary>
/// One partition's fixed window (of the HTTP request limit) counted in the shared store, so every replica spends the
/// same budget; while the store cannot answer, this replica's own window decides. A shared window is decided
/// asynchronously: <see cref="AttemptAcquireCore"/> then declines, and ASP.NET Core's rate-limiting middleware asks
/// <see cref="AcquireAsyncCore"/>, as it does for any limiter that cannot decide at once.
/// </summary>
internal sealed class SharedWindowLimiter(ISharedRateWindows shared, string name, FixedWindowRateLimiterOptions options) : RateLimiter
{
    private static readonly RateLimitLease s_undecided = new Lease(false, null);

    private readonly FixedWindowRateLimiter _local = new(options);

    // Idle only when the local window is full again: dropping the partition then loses nothing (the store keeps its own count).
    public override TimeSpan? IdleDuration => _local.IdleDuration;

    public override RateLimiterStatistics? GetStatistics() => _local.GetStatistics();

    protected override RateLimitLease AttemptAcquireCore(int permitCount) =>
        shared.IsAvailable ? s_undecided : _local.AttemptAcquire(permitCount);

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        if (shared.IsAvailable && await shared.TryTakeAsync([new SharedWindow(name, options.PermitLimit)], options.Window) is { } take)
        {
            return new Lease(take.Taken, take.Taken ? null : take.RetryAfter);
        }

        return _local.AttemptAcquire(permitCount);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _local.Dispose();
        }

        base.Dispose(disposing);
    }

    protected override ValueTask DisposeAsyncCore() => _local.DisposeAsync();

    private sealed class Lease(bool acquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (retryAfter is { } after && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = after;
                return true;
            }

            metadata = null;
            return false;
        }

        // Nothing to give back: a fixed window's permits return when the window turns over.
        protected override void Dispose(bool disposing)
        {
        }
    }
}
