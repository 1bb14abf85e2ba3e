using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;

namespace McpGateway.Benchmarks;

/// <summary>
/// The audit log's costs: what a request pays to enqueue a record, what the writer pays to serialize one, and the
/// whole pipeline per record (enqueue, serialize, batch, write) to a null stream and to a real file.
/// </summary>
[MemoryDiagnoser]
public class AuditBenchmarks
{
    private const int Records = 1_000;

    private AuditRecord _record = null!;
    private AuditRecord _withArguments = null!;
    private JsonObject _arguments = null!;
    private string _errorBody = null!;
    private AuditLog _enqueueLog = null!;
    private AuditLog _nullLog = null!;
    private AuditLog _fileLog = null!;
    private string _folder = null!;
    private ArrayBufferWriter<byte> _buffer = null!;
    private Utf8JsonWriter _json = null!;

    [GlobalSetup]
    public void Setup()
    {
        _record = new AuditRecord
        {
            Time = DateTimeOffset.UtcNow,
            Agent = "agent-0500",
            IdentitySource = AuditIdentitySources.ApiKey,
            CredentialId = "key-0500",
            Session = "3f9a1c2e",
            ClientAddress = "10.20.30.40",
            Method = "tools/call",
            Server = "server-042",
            Item = "server-042_read_thing_07",
            OriginalItem = "read_thing_07",
            Decision = AuditDecisions.Allowed,
            Rule = "agents.agent-0500.allow.tools.server-042[0]",
            Outcome = AuditOutcome.Result,
            LatencyMs = 3.217,
            RequestBytes = 214,
            ResponseBytes = 1873,
        };
        _arguments = (JsonObject)JsonNode.Parse("""
            {"id": "thing-7", "limit": 20, "filter": {"owner": "alice", "tags": ["a", "b"]}, "api_key": "sk-0123456789abcdef", "note": "read it"}
            """)!;
        _withArguments = new AuditRecord
        {
            Time = _record.Time,
            IdentitySource = _record.IdentitySource,
            Method = _record.Method,
            Decision = _record.Decision,
            Outcome = _record.Outcome,
            Agent = _record.Agent,
            Server = _record.Server,
            Item = _record.Item,
            Arguments = AuditRedaction.RedactArguments(_arguments),
        };
        _errorBody = "<html><body><h1>401 Unauthorized</h1><p>Invalid header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl for "
            + "https://api.example.test/v1/things?access_token=abc123&page=2</p>" + new string(' ', 200) + "</body></html>";
        _buffer = new ArrayBufferWriter<byte>(4096);
        _json = new Utf8JsonWriter(_buffer, AuditRecordJson.WriterOptions);
        _folder = Directory.CreateTempSubdirectory("audit-bench-").FullName;

        _enqueueLog = new AuditLog(new AuditOptions { Path = AuditOptions.StandardOutput, BufferRecords = 4_000_000 }, NullLogger.Instance, Stream.Null);
        _nullLog = new AuditLog(new AuditOptions { Path = AuditOptions.StandardOutput }, NullLogger.Instance, Stream.Null);
        _fileLog = new AuditLog(
            new AuditOptions { Path = Path.Combine(_folder, "audit.jsonl"), MaxFileBytes = 64 * 1024 * 1024, MaxFiles = 1 },
            NullLogger.Instance);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _enqueueLog.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _nullLog.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _fileLog.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _json.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>The request path's cost: one enqueue, while the writer drains on the other core (contention included).</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    [InvocationCount(2048)]
    public void Write_Enqueue()
    {
        for (int i = 0; i < Records; i++)
        {
            _enqueueLog.Write(_record);
        }
    }

    /// <summary>Between iterations, not measured: the buffer is emptied so that enqueueing never meets back-pressure.</summary>
    [IterationCleanup(Target = nameof(Write_Enqueue))]
    public void DrainEnqueueLog() => _enqueueLog.FlushAsync().GetAwaiter().GetResult();

    /// <summary>The writer's cost per record: serialization alone.</summary>
    [Benchmark]
    public int Serialize()
    {
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        AuditRecordJson.Write(_json, _record, includeArguments: false);
        _json.Flush();
        return _buffer.WrittenCount;
    }

    [Benchmark]
    public int Serialize_WithArguments()
    {
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        AuditRecordJson.Write(_json, _withArguments, includeArguments: true);
        _json.Flush();
        return _buffer.WrittenCount;
    }

    /// <summary>End to end per record: enqueue, serialize, batch and write, to a stream that costs nothing.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public async Task WriteAndFlush_NullStream()
    {
        for (int i = 0; i < Records; i++)
        {
            _nullLog.Write(_record);
        }

        await _nullLog.FlushAsync();
    }

    /// <summary>End to end per record into a real file (rotating at 64 MiB).</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public async Task WriteAndFlush_File()
    {
        for (int i = 0; i < Records; i++)
        {
            _fileLog.Write(_record);
        }

        await _fileLog.FlushAsync();
    }

    /// <summary>What the request path pays when the operator logs arguments: the redacted deep copy.</summary>
    [Benchmark]
    public JsonNode? RedactArguments() => AuditRedaction.RedactArguments(_arguments);

    [Benchmark]
    public string Excerpt() => AuditRedaction.Excerpt(_errorBody);
}
