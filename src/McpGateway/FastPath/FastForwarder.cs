using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Diagnostics;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Identity;
using ModelContextProtocol.Protocol;

namespace McpGateway.FastPath;

/// <summary>
/// The fast path for the hottest request, <c>tools/call</c>: from the agent's bytes to the downstream server's stdin
/// and back, without building a message object on either side. It decides synchronously, with the same policy
/// decision as the full path, whether it can take a call; when it cannot (a gateway tool, an unknown or denied tool,
/// a progress token, an identity argument, a server on HTTP or on 2026-07-28...) the full path answers, so every
/// error and refusal reads exactly as it always does.
/// </summary>
internal sealed class FastForwarder(GatewayStateProvider stateProvider, GatewayOptions options, ToolCallGate gate, GatewayAudit audit)
{
    private long _taken;

    /// <summary>The identity argument's name, or a name no JSON key has when the argument is switched off.</summary>
    public string AgentArgument => options.Identity.AcceptArgument ? options.Identity.ArgumentName : "\u0000";

    /// <summary>How many calls the fast path has taken since start (for tests and diagnostics).</summary>
    public long Taken => Interlocked.Read(ref _taken);

    /// <summary>
    /// Prepares <paramref name="call"/> for <paramref name="caller"/> (identified by the one resolver), or returns null
    /// when the full path must take it: any refusal (so its error reads exactly as always), a caller that would bind
    /// the session, or a route without a raw connection. The decision is the gate's, the same the full path makes.
    /// </summary>
    /// <param name="transport">How the agent reached the gateway, as telemetry names it (<see cref="GatewayTelemetry.Transports"/>).</param>
    public Prepared? TryPrepare(FastToolCall call, in Caller caller, IUpstream upstream, GatewaySession session, string? clientAddress, long receivedAt, int requestBytes, string transport)
    {
        if (!caller.IsKnown || caller.BindsSession)
        {
            return null;
        }

        ToolCallDecision decision = gate.Decide(stateProvider.Current, caller, call.Name);
        if (!decision.IsAllowed || decision.Route!.Server.FastConnection is not { } connection)
        {
            return null;
        }

        Interlocked.Increment(ref _taken);
        // Admitted now, in the order calls arrive; a shared store's answer is awaited when the call runs.
        return new Prepared(call, decision, gate.AdmitAsync(decision), connection, upstream, new AuditFacts(audit, session, clientAddress, receivedAt, requestBytes), transport);
    }

    /// <summary>A JSON-RPC id as the SDK path's spans write it: a string without its quotes, a number as written.</summary>
    private static string RequestIdText(ReadOnlySpan<byte> id)
    {
        var reader = new Utf8JsonReader(id);
        return reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString()! : System.Text.Encoding.UTF8.GetString(id);
    }

    /// <summary>What the audit record of a fast call needs besides the decision and the outcome.</summary>
    internal sealed record AuditFacts(GatewayAudit Audit, GatewaySession Session, string? ClientAddress, long ReceivedAt, int RequestBytes);

    /// <summary>A call the fast path took: run it to get the complete JSON-RPC response for the agent.</summary>
    internal sealed class Prepared(FastToolCall call, ToolCallDecision allowed, ValueTask<ToolCallDecision> admission, StdioProcessTransport connection, IUpstream upstream, AuditFacts facts, string transport)
    {
        private ClientOperation? _downstream;

        // The gate's decision: allowed by the rules, then admitted (or rate-limited) by the call limits.
        private ToolCallDecision _decision = allowed;

        // How the server's reply ended, when telemetry read it already: the agent's response ends the same way.
        private CallOutcome? _replied;

        private ToolRoute Route => _decision.Route!;

        public async Task<byte[]> RunAsync(CancellationToken cancellationToken)
        {
            // Started here, in the call's own async flow (on stdio, the reader's must not be left with a current span),
            // with the same name and attributes as the SDK path's span.
            ServerOperation? telemetry = GatewayTelemetry.StartServer(RequestMethods.ToolsCall, call.Name, transport);
            telemetry?.Describe(
                facts.Session.Server?.NegotiatedProtocolVersion ?? ProtocolVersions.Legacy,
                facts.Session.Fingerprint,
                telemetry.Activity is { IsAllDataRequested: true } ? RequestIdText(call.Id.Span) : null);
            CallOutcome outcome = new(AuditOutcome.Cancelled);
            byte[]? response = null;
            try
            {
                _decision = await admission;
                response = await ForwardAsync(cancellationToken);
                outcome = _replied is { } replied ? replied with { ResponseBytes = response.Length }
                    : facts.Audit.Enabled || telemetry is not null ? Outcome(response)
                    : default;
                return response;
            }
            finally
            {
                // Ended before the response is written to the agent, where the SDK path ends its span after: the difference is the write alone.
                telemetry?.Complete(
                    new RequestDimensions(_decision.Caller.Agent, Route.Server.Name, GatewayTelemetry.DecisionOf(_decision.DecisionName), call.Name),
                    outcome.ErrorType(),
                    outcome.Code);
                await facts.Audit.ToolCall(_decision, facts.Session, facts.ClientAddress, facts.ReceivedAt, facts.RequestBytes, outcome, AuditArguments());
            }
        }


        private async Task<byte[]> ForwardAsync(CancellationToken cancellationToken)
        {
            if (_decision.Verdict == ToolCallVerdict.RateLimited)
            {
                return Error(CallRateLimiter.ErrorCode, CallRateLimiter.Message(_decision.Caller.Agent!, _decision.RetryAfter, _decision.LimitedBy), CallRateLimiter.RetrySeconds(_decision.RetryAfter));
            }

            TimeSpan timeout = Route.Server.CallTimeout;
            using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeoutCts.CancelAfter(timeout);

            // Registered like any forwarded call, so log messages and server-to-client requests find their agent.
            using var inFlight = new DownstreamCall(Route.Server, upstream, upstreamProgressToken: null);
            byte[] reply;
            _downstream = GatewayTelemetry.StartClient(RequestMethods.ToolsCall, Route.Tool.Name, Route.Server.Name, GatewayTelemetry.Transports.Pipe, Route.Server.NegotiatedProtocolVersion);
            try
            {
                reply = await connection.RequestRawAsync(BuildRequest, timeoutCts.Token);
                if (_downstream is { } downstream)
                {
                    CallOutcome replied = Outcome(reply);
                    downstream.Complete(replied.ErrorType(), replied.Code);
                    _replied = replied;
                }
            }
            catch (OperationCanceledException) when (timeoutCts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                _downstream?.Failed(GatewayTelemetry.ErrorTypes.Timeout);
                return Error(DownstreamErrors.RequestTimeoutErrorCode, $"The request to server '{Route.Server.Name}' timed out after {timeout.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms.");
            }
            catch (OversizedReplyException ex)
            {
                // The reply was dropped unread and the connection kept: the caller is told so, as on the full path.
                _downstream?.Failed(GatewayTelemetry.ErrorTypes.ReplyTooLarge);
                return Error(-32603, ex.Message);
            }
            catch (IOException ex)
            {
                // The connection is over; its reason ("the process exited with code 137") in the full path's words.
                _downstream?.Failed(GatewayTelemetry.ErrorTypes.ConnectionClosed);
                return Error(-32603, $"Server '{Route.Server.Name}' stopped during the request ({ex.Message}).");
            }
            finally
            {
                _downstream?.Failed(cancellationToken.IsCancellationRequested ? GatewayTelemetry.ErrorTypes.Cancelled : GatewayTelemetry.Other);
            }

            // Log messages the server sent during the call reach the agent before its result.
            await inFlight.FlushAsync();
            return BuildResponse(reply);
        }

        private System.Text.Json.Nodes.JsonNode? AuditArguments() =>
            facts.Audit.IncludeArguments && !call.Arguments.IsEmpty ? JsonNode.Parse(call.Arguments.Span) : null;

        /// <summary>How the call ended, read from the response the agent gets (only when the audit wants it).</summary>
        private static CallOutcome Outcome(byte[] response)
        {
            var reader = new Utf8JsonReader(response);
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("error"u8))
                {
                    int code = 0;
                    string? message = null;
                    reader.Read();
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        bool isCode = reader.ValueTextEquals("code"u8), isMessage = reader.ValueTextEquals("message"u8);
                        reader.Read();
                        if (isCode && reader.TokenType == JsonTokenType.Number)
                        {
                            code = reader.GetInt32();
                        }
                        else if (isMessage && reader.TokenType == JsonTokenType.String)
                        {
                            message = reader.GetString();
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }

                    return new CallOutcome(code == DownstreamErrors.RequestTimeoutErrorCode ? AuditOutcome.Timeout : AuditOutcome.ProtocolError, code, message, response.Length);
                }

                if (reader.ValueTextEquals("result"u8))
                {
                    reader.Read();
                    int depth = reader.CurrentDepth;
                    while (reader.Read() && reader.CurrentDepth > depth)
                    {
                        if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals("isError"u8))
                        {
                            reader.Read();
                            if (reader.TokenType == JsonTokenType.True)
                            {
                                return new CallOutcome(AuditOutcome.ToolError, ResponseBytes: response.Length);
                            }
                        }
                        else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                        {
                            reader.Skip();
                        }
                    }

                    return CallOutcome.Result(response.Length);
                }

                reader.Read();
                reader.Skip();
            }

            return CallOutcome.Result(response.Length);
        }

        /// <summary>The request to the server, under the connection's <paramref name="id"/>, with the CLIENT span's trace context in <c>params._meta</c>.</summary>
        private byte[] BuildRequest(string id)
        {
            _downstream?.SetRequestId(id.Trim('"'));
            var buffer = new ArrayBufferWriter<byte>(128 + call.Arguments.Length);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("jsonrpc"u8, "2.0"u8);
                writer.WritePropertyName("id"u8);
                writer.WriteRawValue(id, skipInputValidation: true);
                writer.WriteString("method"u8, "tools/call"u8);
                writer.WriteStartObject("params"u8);
                writer.WriteString("name"u8, Route.Tool.Name);
                if (!call.Arguments.IsEmpty)
                {
                    writer.WritePropertyName("arguments"u8);
                    writer.WriteRawValue(call.Arguments.Span, skipInputValidation: true);
                }

                _downstream?.WriteMeta(writer);
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

        private byte[] Error(int code, string message, int? retryAfterSeconds = null)
        {
            var buffer = new ArrayBufferWriter<byte>(256);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteStartObject("error"u8);
                writer.WriteNumber("code"u8, code);
                writer.WriteString("message"u8, message);
                if (retryAfterSeconds is int seconds)
                {
                    // As the SDK writes the data of the full path's McpProtocolException (CallRateLimiter.Refusal).
                    writer.WriteStartObject("data"u8);
                    writer.WriteNumber("retryAfterSeconds"u8, seconds);
                    writer.WriteEndObject();
                }

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
