using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Gateway;
using ModelContextProtocol.Protocol;

namespace McpGateway.FastPath;

/// <summary>
/// The fast path for the hottest request, <c>tools/call</c>: from the agent's bytes to the downstream server's stdin
/// and back, without building a message object on either side. It decides synchronously, with the same policy
/// decision as the full path, whether it can take a call; when it cannot (a gateway tool, an unknown or denied tool,
/// a progress token, an identity argument, a server on HTTP or on 2026-07-28...) the full path answers, so every
/// error and refusal reads exactly as it always does.
/// </summary>
internal sealed class FastForwarder(GatewayStateProvider stateProvider, GatewayOptions options)
{
    private const int RequestTimeoutErrorCode = -32001;

    private long _taken;

    public string AgentArgument => options.AllowAgentArgument ? options.AgentArgument : "\u0000";

    /// <summary>How many calls the fast path has taken since start (for tests and diagnostics).</summary>
    public long Taken => Interlocked.Read(ref _taken);

    /// <summary>Prepares <paramref name="call"/> for <paramref name="agent"/>, or returns null when the full path must take it.</summary>
    public Prepared? TryPrepare(FastToolCall call, string? agent, IUpstream upstream)
    {
        GatewayState state = stateProvider.Current;
        if (agent is null || state.Mode != ExposureMode.Proxy || !state.Catalog.TryRoute(call.Name, out ToolRoute route) ||
            !state.IsPermitted(agent, route, out _) || route.Server.FastConnection is not { } connection)
        {
            return null;
        }

        Interlocked.Increment(ref _taken);
        return new Prepared(call, route, connection, upstream);
    }

    /// <summary>A call the fast path took: run it to get the complete JSON-RPC response for the agent.</summary>
    internal sealed class Prepared(FastToolCall call, ToolRoute route, StdioProcessTransport connection, IUpstream upstream)
    {
        public async Task<byte[]> RunAsync(CancellationToken cancellationToken)
        {
            TimeSpan timeout = route.Server.CallTimeout;
            using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeoutCts.CancelAfter(timeout);

            // Registered like any forwarded call, so log messages and server-to-client requests find their agent.
            using var inFlight = new DownstreamCall(route.Server, upstream, upstreamProgressToken: null);
            byte[] reply;
            try
            {
                reply = await connection.RequestRawAsync(BuildRequest, timeoutCts.Token);
            }
            catch (OperationCanceledException) when (timeoutCts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return Error(RequestTimeoutErrorCode, $"The request to server '{route.Server.Name}' timed out after {timeout.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms.");
            }
            catch (IOException)
            {
                return Error(-32603, $"Server '{route.Server.Name}' closed the connection during the request.");
            }

            // Log messages the server sent during the call reach the agent before its result.
            await inFlight.FlushAsync();
            return BuildResponse(reply);
        }

        private byte[] BuildRequest(string id)
        {
            var buffer = new ArrayBufferWriter<byte>(128 + call.Arguments.Length);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("jsonrpc"u8, "2.0"u8);
                writer.WritePropertyName("id"u8);
                writer.WriteRawValue(id, skipInputValidation: true);
                writer.WriteString("method"u8, "tools/call"u8);
                writer.WriteStartObject("params"u8);
                writer.WriteString("name"u8, route.Tool.Name);
                if (!call.Arguments.IsEmpty)
                {
                    writer.WritePropertyName("arguments"u8);
                    writer.WriteRawValue(call.Arguments.Span, skipInputValidation: true);
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            return buffer.WrittenSpan.ToArray();
        }

        /// <summary>The agent's response: the server's result or error, byte for byte, under the agent's request id.</summary>
        private byte[] BuildResponse(byte[] reply)
        {
            ReadOnlySpan<byte> line = reply;
            var reader = new Utf8JsonReader(line);
            reader.Read();
            ReadOnlySpan<byte> result = default, error = default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isResult = reader.ValueTextEquals("result"u8), isError = reader.ValueTextEquals("error"u8);
                reader.Read();
                int start = (int)reader.TokenStartIndex;
                reader.Skip();
                ReadOnlySpan<byte> value = line[start..(int)reader.BytesConsumed];
                if (isResult)
                {
                    result = value;
                }
                else if (isError)
                {
                    error = value;
                }
            }

            var buffer = new ArrayBufferWriter<byte>(reply.Length + 64);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                if (!error.IsEmpty)
                {
                    writer.WritePropertyName("error"u8);
                    writer.WriteRawValue(error, skipInputValidation: true);
                }
                else if (result.IndexOf("\"resultType\""u8) < 0 && result.IndexOf("\"io.modelcontextprotocol/"u8) < 0)
                {
                    writer.WritePropertyName("result"u8);
                    writer.WriteRawValue(result.IsEmpty ? "{}"u8 : result, skipInputValidation: true);
                }
                else
                {
                    // Rare: a result carrying another revision's fields. Adapt it as the full path would.
                    JsonNode? node = JsonNode.Parse(result);
                    ProtocolEras.AdaptResult(node, agentProtocolVersion: null);
                    writer.WritePropertyName("result"u8);
                    node!.WriteTo(writer);
                }

                writer.WritePropertyName("id"u8);
                writer.WriteRawValue(call.Id.Span, skipInputValidation: true);
                writer.WriteString("jsonrpc"u8, "2.0"u8);
                writer.WriteEndObject();
            }

            return buffer.WrittenSpan.ToArray();
        }

        private byte[] Error(int code, string message)
        {
            var buffer = new ArrayBufferWriter<byte>(256);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteStartObject("error"u8);
                writer.WriteNumber("code"u8, code);
                writer.WriteString("message"u8, message);
                writer.WriteEndObject();
                writer.WritePropertyName("id"u8);
                writer.WriteRawValue(call.Id.Span, skipInputValidation: true);
                writer.WriteString("jsonrpc"u8, "2.0"u8);
                writer.WriteEndObject();
            }

            return buffer.WrittenSpan.ToArray();
        }
    }
}
