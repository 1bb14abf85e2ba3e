using McpGateway.Configuration;

namespace McpGateway.Gateway;

/// <summary>
/// Admission of new stateful sessions: at most so many in all, per agent and per client address. A newcomer over a
/// limit is refused; nobody is ever evicted to make room (the SDK's own cap, which would close the oldest idle
/// sessions of any agent, is set above the total so it never acts). A slot is released when its session ends.
/// </summary>
internal sealed class SessionLimiter(SessionLimitSettings initial)
{
    private volatile SessionLimitSettings _settings = initial;

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

    /// <summary>Takes a slot for a new session, or says which limit refuses it.</summary>
    public bool TryAdmit(string? agent, string? address, out IDisposable? slot, out string? refusal)
    {
        string agentKey = agent ?? NoAgent;
        string addressKey = address ?? string.Empty;
        SessionLimitSettings settings = _settings;
        lock (_lock)
        {
            refusal = _total >= settings.Total ? $"the gateway has {settings.Total} open sessions, its limit (limits.sessions.total)"
                : _perAgent.GetValueOrDefault(agentKey) >= settings.PerAgent ? $"agent '{agentKey}' has {settings.PerAgent} open sessions, the limit per agent (limits.sessions.perAgent)"
                : addressKey.Length > 0 && _perAddress.GetValueOrDefault(addressKey) >= settings.PerClientAddress ? $"this address has {settings.PerClientAddress} open sessions, the limit per client address (limits.sessions.perClientAddress)"
                : null;
            if (refusal is not null)
            {
                slot = null;
                return false;
            }

            _total++;
            _perAgent[agentKey] = _perAgent.GetValueOrDefault(agentKey) + 1;
            if (addressKey.Length > 0)
            {
                _perAddress[addressKey] = _perAddress.GetValueOrDefault(addressKey) + 1;
            }
        }

        slot = new Slot(this, agentKey, addressKey);
        return true;
    }

    private void Release(string agentKey, string addressKey)
    {
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

    private sealed class Slot(SessionLimiter owner, string agentKey, string addressKey) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(agentKey, addressKey);
            }
        }
    }
}
