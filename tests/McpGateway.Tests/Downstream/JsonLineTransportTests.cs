using System.IO.Pipelines;
using System.Text;
using McpGateway.Downstream;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Protocol;

namespace McpGateway.Tests.Downstream;

/// <summary>
/// The newline-delimited transport in memory: a line over the limit is skipped as it streams past, with its first and
/// last bytes kept for whoever waits for it, while the lines around it pass; memory stays bounded by the limit however
/// long the line is, and the memory a large line took returns once it has gone.
/// </summary>
[Collection(nameof(WholeProcessMemory))]
public sealed class JsonLineTransportTests
{
    private const int Limit = 1024 * 1024;
    private const string Before = """{"jsonrpc":"2.0","method":"notifications/before"}""";
    private const string After = """{"jsonrpc":"2.0","method":"notifications/after"}""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task LineOf50MB_IsSkippedAsItStreams_WithoutTheBufferGrowingBeyondTheLimit()
    {
        const long size = 50L * 1024 * 1024;
        const string head = """{"jsonrpc":"2.0","id":5,"result":{"content":[{"type":"text","text":""";
        const string tail = "\"}]}}";
        var input = new ScriptedInput(
            Part.Text(Before + "\n"),
            Part.Text(head),
            Part.Run((byte)'a', size),
            Part.Text(tail + "\n" + After + "\n"));
        await using var transport = new LineTransport(input, Limit);

        string[] methods = await transport.ReadAllMethodsAsync();

        Assert.Equal(["notifications/before", "notifications/after"], methods);
        Skipped skipped = Assert.Single(transport.Skipped);
        Assert.Equal(head.Length + size + tail.Length, skipped.Length);
        Assert.StartsWith(head, skipped.Head, StringComparison.Ordinal);
        Assert.Equal(4096, skipped.Head.Length);
        Assert.EndsWith("aaaa" + tail, skipped.Tail, StringComparison.Ordinal);
        Assert.Equal(1, skipped.PassedOnBefore);

        // The read buffer never grew past the limit: 50 MB were never held.
        Assert.InRange(input.LargestRead, 1, Limit + 1);
    }

    [Fact]
    public async Task LineOver16MiB_LeavesNoLargeBufferBehind_SoTheMemoryItTookReturns()
    {
        // The default limit: the read buffer grows to it (16 MiB) before the line is known to be too long.
        const int limit = 16 * 1024 * 1024;
        long before = GC.GetTotalMemory(forceFullCollection: true);
        await using (var transport = new LineTransport(new ScriptedInput(Part.Text("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\""), Part.Run((byte)'a', 50L * 1024 * 1024), Part.Text("\"}\n" + After + "\n")), limit))
        {
            Assert.Equal(["notifications/after"], await transport.ReadAllMethodsAsync());
            Assert.Single(transport.Skipped);
        }

        long grown = GC.GetTotalMemory(forceFullCollection: true) - before;

        // Buffers the shared pool would have kept (one per size up to 32 MiB, some 64 MiB) would still be here.
        Assert.True(grown < 4 * 1024 * 1024, $"the heap grew by {grown / 1024} KiB");
    }

    [Fact]
    public async Task LineOverTheLimit_ThatArrivesWhole_IsSkipped_AndTheLinesAroundItPass()
    {
        string big = "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{\"text\":\"" + new string('b', 5000) + "\"}}";
        await using var transport = new LineTransport(new ScriptedInput(Part.Text(Before + "\n" + big + "\n" + After + "\n")), maxLineBytes: 1024);

        string[] methods = await transport.ReadAllMethodsAsync();

        Assert.Equal(["notifications/before", "notifications/after"], methods);
        Skipped skipped = Assert.Single(transport.Skipped);
        Assert.Equal(big.Length, skipped.Length);
        Assert.Equal(big[..4096], skipped.Head);
        Assert.Equal(big[^4096..], skipped.Tail);
    }

    [Fact]
    public async Task LineOfExactlyTheLimit_Passes_AndOneByteMoreDoesNot()
    {
        string exact = Padded(1024);
        string over = Padded(1025);
        await using var transport = new LineTransport(new ScriptedInput(Part.Text(exact + "\n" + over + "\n")), maxLineBytes: 1024);

        string[] methods = await transport.ReadAllMethodsAsync();

        Assert.Equal(["notifications/padded"], methods);
        Assert.Equal(1025, Assert.Single(transport.Skipped).Length);
    }

    [Fact]
    public async Task LongLinesArrivingInSmallPieces_AreJoined_AndOversizedOnesAcrossReadsAreSkipped()
    {
        string allowed = Padded(200_000);
        string skippedLine = Padded(1_500_000);
        byte[] all = Encoding.UTF8.GetBytes(allowed + "\n" + skippedLine + "\n" + After + "\n");
        await using var transport = new LineTransport(new ScriptedInput([.. all.Chunk(7_777).Select(chunk => Part.Bytes(chunk))]), Limit);

        string[] methods = await transport.ReadAllMethodsAsync();

        Assert.Equal(["notifications/padded", "notifications/after"], methods);
        Assert.Equal(skippedLine.Length, Assert.Single(transport.Skipped).Length);
    }

    [Fact]
    public async Task LinesThatAreNotJsonRpc_AreIgnored_AndTheNextLinesPass()
    {
        await using var transport = new LineTransport(new ScriptedInput(Part.Text("not json\n\r\n{\"half\":\n" + After + "\r\n")), Limit);

        Assert.Equal(["notifications/after"], await transport.ReadAllMethodsAsync());
    }

    [Fact]
    public async Task MessagesSent_AreWrittenOnePerLine_InOrder()
    {
        var output = new Pipe();
        await using var transport = new LineTransport(new ScriptedInput(), Limit, output.Writer.AsStream());

        for (int i = 0; i < 3; i++)
        {
            await transport.SendMessageAsync(new JsonRpcNotification { Method = "notifications/n" + i }, Ct);
        }

        using var reader = new StreamReader(output.Reader.AsStream());
        string?[] lines = [await reader.ReadLineAsync(Ct), await reader.ReadLineAsync(Ct), await reader.ReadLineAsync(Ct)];
        Assert.All(lines, line => Assert.DoesNotContain('\n', line!));
        Assert.Equal(["notifications/n0", "notifications/n1", "notifications/n2"], lines.Select(l => System.Text.Json.Nodes.JsonNode.Parse(l!)!["method"]!.GetValue<string>()));
    }

    /// <summary>A notification line of exactly <paramref name="length"/> bytes.</summary>
    private static string Padded(int length)
    {
        const string start = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/padded\",\"params\":{\"pad\":\"";
        const string end = "\"}}";
        return start + new string('p', length - start.Length - end.Length) + end;
    }

    private sealed record Skipped(string Head, string Tail, long Length, long PassedOnBefore);

    /// <summary>A <see cref="JsonLineTransport"/> over the given streams that records the lines it skipped.</summary>
    private sealed class LineTransport : JsonLineTransport
    {
        private readonly List<Skipped> _skipped = [];

        public LineTransport(Stream input, int maxLineBytes, Stream? output = null)
            : base("test", input, output ?? Stream.Null, NullLoggerFactory.Instance, maxLineBytes)
        {
            Start();
        }

        public IReadOnlyList<Skipped> Skipped
        {
            get
            {
                lock (_skipped)
                {
                    return [.. _skipped];
                }
            }
        }

        /// <summary>The methods of every message passed on, until the input ends.</summary>
        public async Task<string[]> ReadAllMethodsAsync()
        {
            var methods = new List<string>();
            await foreach (JsonRpcMessage message in MessageReader.ReadAllAsync(Ct))
            {
                methods.Add(((JsonRpcNotification)message).Method);
            }

            return [.. methods];
        }

        protected override void OnOversizedLine(ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail, long length)
        {
            lock (_skipped)
            {
                _skipped.Add(new Skipped(Encoding.UTF8.GetString(head), Encoding.UTF8.GetString(tail), length, PassedOn));
            }
        }

        public override async ValueTask DisposeAsync()
        {
            await StopWritingAsync(TimeSpan.FromSeconds(5));
            await StopReadingAsync();
        }
    }

    /// <summary>A piece of the input: bytes as given, or a long run of one byte made as it is read (never held whole).</summary>
    private sealed record Part(byte[]? Data, byte Fill, long Count)
    {
        public static Part Text(string text) => Bytes(Encoding.UTF8.GetBytes(text));

        public static Part Bytes(byte[] data) => new(data, 0, data.Length);

        public static Part Run(byte fill, long count) => new(null, fill, count);
    }

    /// <summary>An input stream that yields its parts in turn and then ends; it records the largest read it was asked for.</summary>
    private sealed class ScriptedInput(params Part[] parts) : Stream
    {
        private int _part;
        private long _offset;

        /// <summary>The largest buffer a read offered: the transport's free buffer space, so a bound on its buffer.</summary>
        public int LargestRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            LargestRead = Math.Max(LargestRead, buffer.Length);
            while (_part < parts.Length && _offset == parts[_part].Count)
            {
                _part++;
                _offset = 0;
            }

            if (_part == parts.Length)
            {
                return ValueTask.FromResult(0);
            }

            Part part = parts[_part];
            int count = (int)Math.Min(buffer.Length, part.Count - _offset);
            if (part.Data is { } data)
            {
                data.AsSpan((int)_offset, count).CopyTo(buffer.Span);
            }
            else
            {
                buffer.Span[..count].Fill(part.Fill);
            }

            _offset += count;
            return ValueTask.FromResult(count);
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>Tests that measure the whole process's managed heap: run alone, so no other test's allocations count.</summary>
[CollectionDefinition(nameof(WholeProcessMemory), DisableParallelization = true)]
public sealed class WholeProcessMemory;

/// <summary>The transport's read buffer: pooled while small, native memory of the exact size when large.</summary>
public sealed class LineBufferTests
{
    [Fact]
    public void SmallBuffers_ComeFromThePool_LargeOnes_AreNativeAndExactlySized()
    {
        using LineBuffer small = LineBuffer.Rent(64 * 1024);
        using LineBuffer large = LineBuffer.Rent((16 * 1024 * 1024) + 1);

        large.Span.Fill((byte)'x');
        large.Span[^1] = (byte)'\n';

        Assert.False(small.IsNative);
        Assert.Equal(64 * 1024, small.Length);
        Assert.True(large.IsNative);
        Assert.Equal((16 * 1024 * 1024) + 1, large.Length);
        Assert.Equal(16 * 1024 * 1024, large.Span.IndexOf((byte)'\n'));
    }
}
