using System.Collections.Concurrent;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// A load balancer without stickiness, in the client's own HttpClient: every request (POST, the GET event stream,
/// DELETE) goes to the next replica in turn, or to the one a test pins. It counts what each replica served and
/// keeps every Mcp-Session-Id the replicas answered with.
/// </summary>
internal sealed class ReplicaRouter(IReadOnlyList<Uri> endpoints) : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly int[] _served = new int[endpoints.Count];
    private readonly List<TaskCompletionSource>[] _streams = [.. endpoints.Select(_ => new List<TaskCompletionSource>())];
    private readonly int[] _streamsOpened = new int[endpoints.Count];
    private int _next = -1;

    /// <summary>The replica every request goes to; null: round robin.</summary>
    public int? Pinned { get; set; }

    /// <summary>The address clients are given: the router decides where each request really goes.</summary>
    public Uri Endpoint => endpoints[0];

    public ConcurrentQueue<string> SessionIdsAnswered { get; } = new();

    /// <summary>What went where and what came back (method, replica, status), for the message of a failing test.</summary>
    public ConcurrentQueue<string> Trace { get; } = new();

    public override string ToString() => string.Join(Environment.NewLine, Trace);

    public int Served(int replica) => Volatile.Read(ref _served[replica]);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        int replica = Pinned ?? (int)((uint)Interlocked.Increment(ref _next) % (uint)endpoints.Count);
        Uri target = endpoints[replica];
        request.RequestUri = new UriBuilder(request.RequestUri!) { Host = target.Host, Port = target.Port }.Uri;
        Interlocked.Increment(ref _served[replica]);
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken);
        }
        catch (Exception ex)
        {
            Trace.Enqueue($"{request.Method} -> {replica}: {ex.GetType().Name}");
            throw;
        }

        Trace.Enqueue($"{request.Method} -> {replica}: {(int)response.StatusCode} {response.Content.Headers.ContentType?.MediaType}");
        if (response.Headers.TryGetValues("Mcp-Session-Id", out IEnumerable<string>? ids))
        {
            foreach (string id in ids)
            {
                SessionIdsAnswered.Enqueue(id);
            }
        }

        // The SDK flushes a GET's headers once the stream is the session's: from then on, what the session sends reaches it.
        if (request.Method == HttpMethod.Get && response.IsSuccessStatusCode && response.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            lock (_streams)
            {
                Stream(replica, _streamsOpened[replica]++).TrySetResult();
            }
        }

        return response;
    }

    /// <summary>Completes when the <paramref name="count"/>th GET event stream (counting from 1) is open on <paramref name="replica"/>.</summary>
    public Task EventStreamOpenedAsync(int replica, int count = 1)
    {
        lock (_streams)
        {
            return Stream(replica, count - 1).Task;
        }
    }

    private TaskCompletionSource Stream(int replica, int index)
    {
        List<TaskCompletionSource> streams = _streams[replica];
        while (streams.Count <= index)
        {
            streams.Add(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        return streams[index];
    }
}
