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
/// Multi round-trip requests (2026-07-28): an agent of that revision is never sent a request of the gateway's own, so
/// when a downstream server asks for sampling, elicitation or roots during the agent's call, the gateway answers the
/// call with an <c>input_required</c> result naming what the server asked, keeps the downstream call waiting, and
/// resumes it when the agent retries the call with its <c>inputResponses</c> and the <c>requestState</c> it was given.
/// The state is an unguessable key to the waiting call, good for one retry and for <see cref="s_retryWindow"/>.
/// </summary>
internal sealed class MultiRoundTrip(CallerResolver callers, GatewayStateProvider stateProvider)
{
    private static readonly TimeSpan s_retryWindow = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, Continuation> _waiting = new(StringComparer.Ordinal);

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
        Continuation continuation;
        if (request.Params?["requestState"] is JsonValue state && state.GetValueKind() == JsonValueKind.String)
        {
            if (!_waiting.TryRemove(state.GetValue<string>(), out continuation!) || continuation.Agent != AgentOf(request))
            {
                throw new McpProtocolException("The requestState is unknown or has expired; send the request again without it.", McpErrorCode.InvalidParams);
            }

            continuation.StopExpiry();
            continuation.Upstream.Resume(request.Upstream, request.Params["inputResponses"] as JsonObject);
        }
        else
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
            return await continuation.Call;
        }

        InputRound round = await asked;
        string key = NewKey();
        _waiting[key] = continuation;
        continuation.ExpireAfter(s_retryWindow, () => _waiting.TryRemove(key, out _));
        var result = new InputRequiredResult
        {
            InputRequests = new Dictionary<string, InputRequest>
            {
                [round.Key] = new InputRequest { Method = round.Method, Params = round.Params is null ? null : JsonSerializer.SerializeToElement(round.Params, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonNode))) },
            },
            RequestState = key,
        };
        return JsonSerializer.SerializeToNode(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(InputRequiredResult)));
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

    /// <summary>A call across its rounds: the dispatch task and what keeps it alive between the agent's retries.</summary>
    private sealed class Continuation(RoundTripUpstream upstream, string? agent) : IDisposable
    {
        private ITimer? _expiry;

        public RoundTripUpstream Upstream { get; } = upstream;

        public string? Agent { get; } = agent;

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

        public void ExpireAfter(TimeSpan window, Action forget)
        {
            _expiry?.Dispose();
            _expiry = TimeProvider.System.CreateTimer(_ => { forget(); Cancel(); }, null, window, Timeout.InfiniteTimeSpan);
        }

        public void StopExpiry() => _expiry?.Dispose();

        public void Dispose()
        {
            _expiry?.Dispose();
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

        public ClientCapabilities? ClientCapabilities => _current.ClientCapabilities;

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
