using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Identity;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>
/// Multi round-trip requests (2026-07-28) for agents of that revision, which are never sent a request of the gateway's
/// own: they are asked for input in the answer to their request (an <c>input_required</c> result) and retry it with
/// their <c>inputResponses</c> and the <c>requestState</c> they were given. Two kinds of downstream round reach them:
/// <list type="bullet">
/// <item>A 2025-11-25 server sends sampling, elicitation or roots requests during the call: the gateway answers the
/// agent with an <c>input_required</c> result naming what the server asked (under keys of its own, <c>input_1</c>...),
/// keeps the downstream call waiting, and resumes it when the retry brings the answer.</item>
/// <item>A 2026-07-28 server answers <c>input_required</c> itself: the result goes to the agent as the server wrote it
/// (its input-request keys, its requests), and the retry goes to the server as a new request with the server's own
/// <c>requestState</c> back. The agent sees a key of the gateway's instead of that state, bound to the agent, the
/// method and the tool, prompt or resource: the server cannot tell the gateway's agents apart (it sees one client),
/// so it is the gateway that keeps one agent's state from serving another, or another request.</item>
/// </list>
/// Either way the state the agent holds is an unguessable key, good for one retry and for <see cref="s_retryWindow"/>.
/// </summary>
internal sealed class MultiRoundTrip(CallerResolver callers, GatewayStateProvider stateProvider)
{
    private static readonly TimeSpan s_retryWindow = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, Waiter> _waiting = new(StringComparer.Ordinal);

    /// <summary>True when requests of <paramref name="agentProtocolVersion"/> get input requests this way.</summary>
    public static bool Applies(string? agentProtocolVersion) => ProtocolEras.IsJuly2026OrLater(agentProtocolVersion);

    /// <summary>How many calls wait for an agent's retry (for tests and diagnostics).</summary>
    public int Waiting => _waiting.Count;

    /// <summary>
    /// Runs <paramref name="dispatch"/> for a request, or resumes the call a retry names, and returns the request's
    /// result: the call's own, or an input_required result when the server asked for input.
    /// </summary>
    public async Task<JsonNode?> RunAsync(
        GatewayRequest request,
        Func<GatewayRequest, CancellationToken, Task<JsonNode?>> dispatch,
        CancellationToken cancellationToken)
    {
        // What the request is about, as the agent named it (the handlers rewrite names to the server's own).
        string? target = TargetOf(request);
        Continuation? continuation = null;
        if (request.Params?["requestState"] is JsonValue state && state.GetValueKind() == JsonValueKind.String)
        {
            if (!_waiting.TryRemove(state.GetValue<string>(), out Waiter? waiter) || waiter.Agent != AgentOf(request) ||
                waiter is RelayedRound relayed && !relayed.Matches(request.Message.Method, target))
            {
                throw new McpProtocolException("The requestState is unknown or has expired; send the request again without it.", McpErrorCode.InvalidParams);
            }

            waiter.StopExpiry();
            if (waiter is RelayedRound round)
            {
                // The server's own round: the retry reaches it as a new request, carrying the state it gave.
                request.Params["requestState"] = round.ServerState;
            }
            else
            {
                continuation = (Continuation)waiter;
                continuation.Upstream.Resume(request.Upstream, request.Params["inputResponses"] as JsonObject);
            }
        }

        if (continuation is null)
        {
            var upstream = new RoundTripUpstream(request.Upstream);
            continuation = new Continuation(upstream, AgentOf(request));
            continuation.Start(dispatch(request with { Upstream = upstream }, continuation.Lifetime.Token));
        }

        // Until this round ends, the agent dropping its request cancels the call downstream.
        using CancellationTokenRegistration abandon = cancellationToken.Register(continuation.Cancel);
        Task<InputRound> asked = continuation.Upstream.NextRoundAsync();
        Task finished = await Task.WhenAny(continuation.Call, asked);
        if (finished == continuation.Call)
        {
            continuation.Dispose();
            return Relay(request, target, await continuation.Call);
        }

        InputRound next = await asked;
        string key = Keep(continuation);
        var result = new InputRequiredResult
        {
            InputRequests = new Dictionary<string, InputRequest>
            {
                [next.Key] = new InputRequest { Method = next.Method, Params = next.Params is null ? null : JsonSerializer.SerializeToElement(next.Params, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonNode))) },
            },
            RequestState = key,
        };
        return JsonSerializer.SerializeToNode(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(InputRequiredResult)));
    }

    /// <summary>
    /// A 2026-07-28 server's <c>input_required</c> result, on its way to the agent: only what the agent declared may
    /// be asked, the result is not cacheable, and the server's <c>requestState</c> stays with the gateway.
    /// </summary>
    private JsonNode? Relay(GatewayRequest request, string? target, JsonNode? result)
    {
        if (!ModernHopMessages.IsInputRequired(result))
        {
            return result;
        }

        var inputRequired = (JsonObject)result!;
        InputRequests.RequireDeclared(request.Audit.Server ?? "the server", InputRequests.Of(inputRequired), request.Upstream.ClientCapabilities);
        inputRequired.Remove("ttlMs");
        inputRequired.Remove("cacheScope");
        if (InputRequests.StateOf(inputRequired) is { } serverState)
        {
            inputRequired["requestState"] = Keep(new RelayedRound(AgentOf(request), request.Message.Method, target, serverState));
        }

        return inputRequired;
    }

    /// <summary>Keeps a round for the agent's retry; returns the key the agent gets as its requestState.</summary>
    private string Keep(Waiter waiter)
    {
        string key = NewKey();
        _waiting[key] = waiter;
        waiter.ExpireAfter(s_retryWindow, () => _waiting.TryRemove(key, out _));
        return key;
    }

    /// <summary>
    /// What a request is about: the tool or prompt it names, or the resource it reads (as the agent named it); for the
    /// gateway's execute_tool, the server and tool it runs, so one server's state never goes to another.
    /// </summary>
    private static string? TargetOf(GatewayRequest request)
    {
        string? target = StringOf(request.Params?[request.Message.Method == RequestMethods.ResourcesRead ? "uri" : "name"]);
        return target == GatewayTools.ExecuteTool && request.Params?["arguments"] is JsonObject arguments
            ? $"{target}\0{StringOf(arguments["server"])}\0{StringOf(arguments["tool"])}"
            : target;

        static string? StringOf(JsonNode? node) => node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
    }

    /// <summary>Who may resume a waiting call: the same agent with the same credential, decided as for any request.</summary>
    private string? AgentOf(GatewayRequest request)
    {
        Caller caller = callers.Resolve(request.Claims, request.Session.Identity, stateProvider.Current.Policy);
        return caller.Agent is null ? null : caller.Agent + "\0" + caller.CredentialId;
    }

    private static string NewKey() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>One input request the server made, as the agent is asked it.</summary>
    private sealed record InputRound(string Key, string Method, JsonNode? Params);

    /// <summary>A round that waits for the agent's retry: whose it is, and how long it waits.</summary>
    private abstract class Waiter(string? agent)
    {
        private ITimer? _expiry;

        public string? Agent { get; } = agent;

        public void ExpireAfter(TimeSpan window, Action forget)
        {
            _expiry?.Dispose();
            _expiry = TimeProvider.System.CreateTimer(_ => { forget(); Expire(); }, null, window, Timeout.InfiniteTimeSpan);
        }

        public void StopExpiry() => _expiry?.Dispose();

        protected virtual void Expire()
        {
        }
    }

    /// <summary>A 2026-07-28 server's round: its state, and the request it belongs to, which only the same request may resume.</summary>
    private sealed class RelayedRound(string? agent, string method, string? target, string serverState) : Waiter(agent)
    {
        public string ServerState { get; } = serverState;

        public bool Matches(string requestMethod, string? requestTarget) => requestMethod == method && requestTarget == target;
    }

    /// <summary>A 2025-11-25 server's call across its rounds: the dispatch task and what keeps it alive between the agent's retries.</summary>
    private sealed class Continuation(RoundTripUpstream upstream, string? agent) : Waiter(agent), IDisposable
    {
        public RoundTripUpstream Upstream { get; } = upstream;

        public CancellationTokenSource Lifetime { get; } = new();

        public Task<JsonNode?> Call { get; private set; } = Task.FromResult<JsonNode?>(null);

        public void Start(Task<JsonNode?> call) => Call = call;

        public void Cancel()
        {
            try
            {
                Lifetime.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        protected override void Expire() => Cancel();

        public void Dispose()
        {
            StopExpiry();
            Lifetime.Dispose();
        }
    }

    /// <summary>
    /// The way back to the agent across rounds: notifications go on the current round's response; a request the
    /// server makes ends the round with an input request and waits for the agent's retry to bring its answer.
    /// </summary>
    private sealed class RoundTripUpstream(IUpstream first) : IUpstream
    {
        private readonly object _lock = new();
        private IUpstream _current = first;
        private TaskCompletionSource<InputRound> _nextRound = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private (InputRound Round, TaskCompletionSource<JsonNode?> Answer)? _pending;
        private int _nextKey;

        public object Session { get; } = first.Session;

        public bool AskedForLogs => _current.AskedForLogs;

        public string? LogLevel => _current.LogLevel;

        public ClientCapabilities? ClientCapabilities => _current.ClientCapabilities;

        public bool RelaysInputRequired => true;

        public Task SendNotificationAsync(string method, JsonNode? parameters, CancellationToken cancellationToken) =>
            Volatile.Read(ref _current).SendNotificationAsync(method, parameters, cancellationToken);

        public async Task<JsonNode?> SendRequestAsync(string method, JsonNode? parameters, CancellationToken cancellationToken)
        {
            var answer = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
            var round = new InputRound("input_" + Interlocked.Increment(ref _nextKey).ToString(System.Globalization.CultureInfo.InvariantCulture), method, parameters?.DeepClone());
            lock (_lock)
            {
                if (_pending is not null)
                {
                    throw new McpProtocolException("The server asked for more input while another of its requests waits for the agent.", McpErrorCode.InvalidRequest);
                }

                _pending = (round, answer);
                _nextRound.TrySetResult(round);
            }

            return await answer.Task.WaitAsync(cancellationToken);
        }

        /// <summary>Completes when the server asks for input (the round ends there).</summary>
        public Task<InputRound> NextRoundAsync()
        {
            lock (_lock)
            {
                return _nextRound.Task;
            }
        }

        /// <summary>A retry arrived: its response stream becomes the way back, and its answer goes to the server.</summary>
        public void Resume(IUpstream current, JsonObject? responses)
        {
            Volatile.Write(ref _current, current);
            lock (_lock)
            {
                _nextRound = new TaskCompletionSource<InputRound>(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_pending is not { } pending)
                {
                    return;
                }

                _pending = null;
                if (responses?[pending.Round.Key] is JsonNode response)
                {
                    pending.Answer.TrySetResult(response.DeepClone());
                }
                else
                {
                    pending.Answer.TrySetException(new McpProtocolException(
                        $"The agent's retry did not answer input request '{pending.Round.Key}'.", McpErrorCode.InvalidParams));
                }
            }
        }
    }
}
