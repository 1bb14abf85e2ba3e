using System.IO.Pipelines;
using System.Text;
using System.Threading.Channels;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Gateway;
using McpGateway.Hosting;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// One stdio session of an in-process gateway (the production <see cref="StdioSession"/> over pipes), driven line by
/// line: the tests write messages no client library would write (duplicate keys) and read the exact lines back.
/// </summary>
internal sealed class RawStdioSession : IAsyncDisposable
{
    private readonly Pipe _toServer = new();
    private readonly Pipe _toClient = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly StreamWriter _writer;
    private readonly Task _session;
    private readonly Task _reading;
    private readonly Channel<string> _unread = Channel.CreateUnbounded<string>();

    private RawStdioSession(IServiceProvider services)
    {
        _writer = new StreamWriter(_toServer.Writer.AsStream(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { AutoFlush = true, NewLine = "\n" };
        _session = Task.Run(() => StdioSession.RunAsync(services, _toServer.Reader.AsStream(), _toClient.Writer.AsStream(), new GatewaySession(stateless: false), _stopping.Token));
        _reading = Task.Run(ReadAsync);
    }

    /// <summary>Every line the gateway wrote, in order.</summary>
    public LineLog Lines { get; } = new();

    public static async Task<RawStdioSession> StartAsync(InProcessGateway gateway, CancellationToken cancellationToken)
    {
        var session = new RawStdioSession(gateway.Services);
        await session.RequestAsync(0, RawMcpHttp.Initialize(0), cancellationToken);
        await session.WriteLineAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");
        return session;
    }

    public Task WriteLineAsync(string line) => _writer.WriteLineAsync(line);

    /// <summary>
    /// Writes <paramref name="line"/> and returns the next response line with <paramref name="id"/>, exactly as
    /// written (requests of one session are sent one at a time; notifications in between are skipped).
    /// </summary>
    public async Task<string> RequestLineAsync(int id, string line, CancellationToken cancellationToken)
    {
        await WriteLineAsync(line);
        using CancellationTokenSource deadline = Patience.Guard(cancellationToken);
        try
        {
            while (true)
            {
                string next = await _unread.Reader.ReadAsync(deadline.Token);
                if (IsResponseTo(next, id))
                {
                    return next;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{Patience.Message($"the stdio response to id {id}")} Lines so far:{Environment.NewLine}{Lines}");
        }
    }

    public async Task<JsonObject> RequestAsync(int id, string line, CancellationToken cancellationToken) =>
        JsonNode.Parse(await RequestLineAsync(id, line, cancellationToken))!.AsObject();

    private static bool IsResponseTo(string line, int id)
    {
        try
        {
            return JsonNode.Parse(line) is JsonObject message && message["id"] is JsonValue value && value.TryGetValue(out int found) && found == id
                && (message.ContainsKey("result") || message.ContainsKey("error"));
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private async Task ReadAsync()
    {
        using var reader = new StreamReader(_toClient.Reader.AsStream(), Encoding.UTF8);
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                Lines.Add(line);
                _unread.Writer.TryWrite(line);
            }
        }
        catch (IOException)
        {
            // The pipe closed with the session.
        }
        finally
        {
            Lines.Add(null);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _writer.DisposeAsync();
        await _session.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        await _toClient.Writer.CompleteAsync();
        await _reading.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        _stopping.Dispose();
    }
}
