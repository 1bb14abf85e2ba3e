using McpGateway.Configuration;

namespace McpGateway.Gateway;

/// <summary>
/// Fixed windows that every replica counts in (Redis, when configured), for the call and request limits that hold
/// across replicas. When the store cannot answer, the caller decides with its own per-replica limiter.
/// </summary>
internal interface ISharedRateWindows
{
    /// <summary>False while the store is known to be unreachable: decide locally without asking it.</summary>
    bool IsAvailable { get; }

    /// <summary>
    /// Takes one from every window in <paramref name="windows"/>, all or none: the first that is full refuses. Null
    /// when the store could not answer (decide locally); this never throws for the store's sake.
    /// </summary>
    ValueTask<SharedTake?> TryTakeAsync(IReadOnlyList<SharedWindow> windows, TimeSpan window);
}

/// <summary>One window: its name (the store adds its prefix) and how many it holds.</summary>
internal readonly record struct SharedWindow(string Name, int Limit);

/// <summary>The store's answer: <see cref="RefusedBy"/> is the index of the full window, or -1 when all took one.</summary>
internal readonly record struct SharedTake(int RefusedBy, TimeSpan RetryAfter)
{
    public bool Taken => RefusedBy < 0;
}

/// <summary>
/// Session slots that every replica counts (Redis, when configured). Each replica keeps its own slots alive in the
/// store, so a replica that dies stops counting after a short lease instead of holding its slots for ever.
/// </summary>
internal interface ISharedSessionSlots
{
    /// <summary>Admits the slot if every limit has room, and keeps it counted until <see cref="Release"/>.</summary>
    ValueTask<SharedAdmission> TryAdmitAsync(SessionSlot slot, SessionLimitSettings limits);

    /// <summary>A slot admitted by this replica alone while the store was unreachable: counted in the store once it answers again.</summary>
    void Track(SessionSlot slot);

    void Release(SessionSlot slot);
}

/// <summary>A session's slot: an id unique across replicas, and what it is counted under.</summary>
internal sealed record SessionSlot(string Id, string Agent, string Address);

internal enum SharedAdmission
{
    /// <summary>The store could not answer: decide locally.</summary>
    Unavailable,
    Admitted,
    OverTotal,
    OverAgent,
    OverAddress,
}
