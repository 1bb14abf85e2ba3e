using System.Diagnostics;
using System.Runtime.InteropServices;
using McpGateway.Downstream;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.Tests.Downstream;

/// <summary>
/// The connection to a child process ends once, with its reason, and always ends the SDK's channel: everything that
/// reads it (the gateway's ordered reader, the SDK client) waits on that.
/// </summary>
public sealed class StdioProcessTransportTests
{
    private static readonly TimeSpan s_patience = Patience.HangGuard;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ProcessThatExits_EndsTheConnection_WithItsExitCode()
    {
        await using StdioProcessTransport transport = Start("exit 7");

        ClientTransportClosedException closed = await Assert.ThrowsAsync<ClientTransportClosedException>(() => transport.MessageReader.Completion.WaitAsync(s_patience, Ct));

        Assert.Equal("the process exited with code 7", transport.ClosedReason);
        Assert.Equal(7, Assert.IsType<StdioClientCompletionDetails>(closed.Details).ExitCode);
    }

    [Fact]
    public async Task SdkClient_OnAConnectionThatAlreadyEnded_FailsAtOnceWithTheExitCode_NotAtItsInitializationTimeout()
    {
        // A server that exits before the SDK sends its first request: the SDK has already failed the requests it knew
        // of, so the first one must fail when it is sent, or it waits for the (here hour-long) initialization timeout.
        await using StdioProcessTransport transport = Start("exit 3");
        await Assert.ThrowsAsync<ClientTransportClosedException>(() => transport.MessageReader.Completion.WaitAsync(s_patience, Ct));

        IOException sent = await Assert.ThrowsAsync<IOException>(() => transport.SendMessageAsync(new JsonRpcNotification { Method = "notifications/initialized" }, Ct));
        Exception? connecting = await Record.ExceptionAsync(() => McpClient.CreateAsync(
            new OneShotTransport(transport),
            new McpClientOptions { InitializationTimeout = TimeSpan.FromHours(1) },
            cancellationToken: Ct).WaitAsync(s_patience, Ct));

        Assert.Equal("the process exited with code 3", sent.Message);
        Assert.NotNull(connecting);
        Assert.IsNotType<TimeoutException>(connecting);
        Assert.Contains("the process exited with code 3", connecting.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProcessThatClosesItsOutputButLivesOn_EndsTheConnection_SayingSo()
    {
        await using StdioProcessTransport transport = Start("exec >&-; read line");

        await Assert.ThrowsAsync<ClientTransportClosedException>(() => transport.MessageReader.Completion.WaitAsync(s_patience, Ct));

        Assert.Equal("the server closed its output", transport.ClosedReason);
        await Assert.ThrowsAsync<IOException>(() => transport.RequestRawAsync(id => [], Ct));
    }

    [Fact]
    public async Task CloseAfterTheProcessObjectWasDisposed_StillEndsTheSdksChannel()
    {
        // What a close on another thread (the exit noticed, the output ended) meets when it races with DisposeAsync,
        // which disposes the process object: it must still end the channel, or the gateway's reader and whoever
        // disposes the connection wait forever.
        Process process = StartProcess("read line");
        var transport = new StdioProcessTransport("child", process, 1024 * 1024, TimeSpan.FromSeconds(2), _ => { }, NullLoggerFactory.Instance);
        int pid = process.Id;

        process.Dispose();
        Process.GetProcessById(pid).Kill();
        Exception? ending = await Record.ExceptionAsync(() => transport.MessageReader.Completion.WaitAsync(s_patience, Ct));

        Assert.IsType<ClientTransportClosedException>(ending);
        Assert.Equal("the process exited", transport.ClosedReason);
        Assert.Equal(pid, transport.ProcessId);
    }

    [Theory]
    [InlineData("read line")]
    [InlineData("exit 3")]
    public async Task Disposed_ClosesTheGatewaysEndsOfTheChildsPipes_NotLeavingThemToTheFinalizer(string script)
    {
        // Each restart of a server used to leave its stdout and stderr descriptors open until a garbage collection.
        Process process = StartProcess(script);
        SafeHandle[] pipes = [.. new[] { process.StandardInput.BaseStream, process.StandardOutput.BaseStream, process.StandardError.BaseStream }.Select(s => Assert.IsAssignableFrom<System.IO.Pipes.PipeStream>(s).SafePipeHandle)];
        var transport = new StdioProcessTransport("child", process, 1024 * 1024, TimeSpan.FromSeconds(2), _ => { }, NullLoggerFactory.Instance);

        await transport.DisposeAsync();

        Assert.All(pipes, pipe => Assert.True(pipe.IsClosed));
    }

    private static StdioProcessTransport Start(string script) =>
        new("child", StartProcess(script), 1024 * 1024, TimeSpan.FromSeconds(2), _ => { }, NullLoggerFactory.Instance);

    private static Process StartProcess(string script)
    {
        var start = new ProcessStartInfo("sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        return ChildProcesses.Start(start, NullLogger.Instance);
    }

    /// <summary>Hands the SDK client a connection that is already made.</summary>
    private sealed class OneShotTransport(ITransport transport) : IClientTransport
    {
        public string Name => "child";

        public Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default) => Task.FromResult(transport);
    }
}
