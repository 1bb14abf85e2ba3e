using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace McpGateway;

/// <summary>Source-generated serialisation for the JSON the gateway writes itself.</summary>
[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonNode))]
[JsonSerializable(typeof(JsonArray))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext;
