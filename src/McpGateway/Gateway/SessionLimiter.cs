using McpGateway.Configuration;

namespace McpGateway.Gateway;

/// <summary>
/// Admission of new stateful sessions: at most so many in all, per agent and per client address. A newcomer over a
/// limit is refused; nobody is ever evicted to make room (the SDK's own cap, which would close the oldest idle
/// sessions of any agent, is set above the total so it never acts). A slot is released when its session ends.
/// With a shared store (Redis) the limits count the sessions of every replica; while the store cannot answer, each
/// replica counts its own (it always keeps those counts too).
/// </summary>
internal sealed class SessionLimiter(SessionLimitSettings initial, ISharedSessionSlots? shared = null)
{
    private volatile SessionLimitSettings _settings = initial;

    // Slot ids unique across replicas (and across gateways in one process): this limiter's own id and a counter.
    private readonly string _replica = Guid.NewGuid().ToString("N");
    private long _slots;

    /// <summary>The key under which sessions without a known agent are counted together.</summary>
    public const string NoAgent = "(no agent)";

    private readonly object _lock = new();
    private readonly Dictionary<string, int> _perAgent = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _perAddress = new(StringComparer.Ordinal);
    private int _total;

    public SessionLimitSettings Settings => _settings;

    /// <summary>New limits (a reload): they judge the next newcomer; open sessions are never closed for them.</summary>
    public void Apply(SessionLimitSettings settings) => _settings = settings;

    public int Total
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    /// <summary>
    /// Takes a slot for a new session, or says which limit refuses it: the shared store decides when there is one and
    /// it answers, else this replica's own counts (<see cref="TryAdmit"/>).
    /// </summary>
    public async ValueTask<(IDisposable? Slot, string? Refusal)> TryAdmitAsync(string? agent, string? address)
    {
        if (shared is null)
        {
            return TryAdmit(agent, address, out IDisposable? local, out string? localRefusal) ? (local, null) : (null, localRefusal);
        }

        SessionLimitSettings settings = _settings;
        var slot = new SessionSlot(_replica + "-" + Interlocked.Increment(ref _slots).ToString(System.Globalization.CultureInfo.InvariantCulture), agent ?? NoAgent, address ?? string.Empty);
        switch (await shared.TryAdmitAsync(slot, settings))
        {
            case SharedAdmission.Admitted:
                Count(slot.Agent, slot.Address);
                return (new Slot(this, slot.Agent, slot.Address, slot), null);
            case SharedAdmission.OverTotal:
                return (null, TotalRefusal(settings));
            case SharedAdmission.OverAgent:
                return (null, AgentRefusal(settings, slot.Agent));
            case SharedAdmission.OverAddress:
                return (null, AddressRefusal(settings));
        }

        if (!TryAdmit(agent, address, out IDisposable? admitted, out string? refusal))
        {
            return (null, refusal);
        }

        // Admitted by this replica alone: counted in the store too once it answers again.
        shared.Track(slot);
        ((Slot)admitted!).Shared = slot;
        return (admitted, null);
    }

    /// <summary>Takes a slot for a new session by this replica's own counts, or says which limit refuses it.</summary>
    public bool TryAdmit(string? agent, string? address, out IDisposable? slot, out string? refusal)
    {
        string agentKey = agent ?? NoAgent;
        string addressKey = address ?? string.Empty;
        SessionLimitSettings settings = _settings;
        lock (_lock)
        {
            refusal = _total >= settings.Total ? TotalRefusal(settings)
                : _perAgent.GetValueOrDefault(agentKey) >= settings.PerAgent ? AgentRefusal(settings, agentKey)
                : addressKey.Length > 0 && _perAddress.GetValueOrDefault(addressKey) >= settings.PerClientAddress ? AddressRefusal(settings)
                : null;
            if (refusal is not null)
            {
                slot = null;
                return false;
            }

            Count(agentKey, addressKey);
        }

        slot = new Slot(this, agentKey, addressKey, null);
        return true;
    }

    private static string TotalRefusal(SessionLimitSettings settings) => $"the gateway has {settings.Total} open sessions, its limit (limits.sessions.total)";

    private static string AgentRefusal(SessionLimitSettings settings, string agentKey) => $"agent '{agentKey}' has {settings.PerAgent} open sessions, the limit per agent (limits.sessions.perAgent)";

    private static string AddressRefusal(SessionLimitSettings settings) => $"this address has {settings.PerClientAddress} open sessions, the limit per client address (limits.sessions.perClientAddress)";

    private void Count(string agentKey, string addressKey)
    {
        lock (_lock)
        {
            _total++;
            _perAgent[agentKey] = _perAgent.GetValueOrDefault(agentKey) + 1;
            if (addressKey.Length > 0)
            {
                _perAddress[addressKey] = _perAddress.GetValueOrDefault(addressKey) + 1;
            }
        }
    }

    private void Release(string agentKey, string addressKey, SessionSlot? sharedSlot)
    {
        if (sharedSlot is not null)
        {
            shared!.Release(sharedSlot);
        }

        lock (_lock)
        {
            _total--;
            Decrement(_perAgent, agentKey);
            if (addressKey.Length > 0)
            {
                Decrement(_perAddress, addressKey);
            }
        }
    }

    private static void Decrement(Dictionary<string, int> counts, string key)
    {
        int count = counts.GetValueOrDefault(key) - 1;
        if (count <= 0)
        {
            counts.Remove(key);
        }
        else
        {
            counts[key] = count;
        }
    }

    private sealed class Slot(SessionLimiter owner, string agentKey, string addressKey, SessionSlot? shared) : IDisposable
    {
        private int _released;

        /// <summary>The slot as the shared store counts it, if it does.</summary>
        public SessionSlot? Shared { get; set; } = shared;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(agentKey, addressKey, Shared);
            }
        }
    }
}
