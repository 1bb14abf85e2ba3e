using System.Text.Json.Nodes;
using McpGateway.Downstream;

namespace McpGateway.Gateway;

/// <summary>
/// Which sessions subscribed to which downstream resource, under which URI they know it. A downstream server is
/// subscribed once however many sessions want the resource, and unsubscribed when the last of them leaves.
/// </summary>
internal sealed class SubscriptionRegistry
{
    private readonly object _lock = new();
    private readonly Dictionary<(DownstreamServer Server, string Uri), Dictionary<GatewaySession, string>> _subscribers = [];

    /// <summary>Adds a subscriber; true when it is the first for that resource (the server must be subscribed).</summary>
    public bool Add(GatewaySession session, DownstreamServer server, string serverUri, string exposedUri)
    {
        lock (_lock)
        {
            if (!_subscribers.TryGetValue((server, serverUri), out Dictionary<GatewaySession, string>? sessions))
            {
                _subscribers[(server, serverUri)] = sessions = [];
            }

            sessions[session] = exposedUri;
            return sessions.Count == 1;
        }
    }

    /// <summary>Removes a subscriber; true when it was the last (the server must be unsubscribed).</summary>
    public bool Remove(GatewaySession session, DownstreamServer server, string serverUri)
    {
        lock (_lock)
        {
            if (!_subscribers.TryGetValue((server, serverUri), out Dictionary<GatewaySession, string>? sessions) || !sessions.Remove(session))
            {
                return false;
            }

            if (sessions.Count > 0)
            {
                return false;
            }

            _subscribers.Remove((server, serverUri));
            return true;
        }
    }

    /// <summary>Drops every subscription of an ended session; returns the resources nobody subscribes to any more.</summary>
    public List<(DownstreamServer Server, string Uri)> RemoveSession(GatewaySession session)
    {
        var released = new List<(DownstreamServer, string)>();
        lock (_lock)
        {
            foreach (((DownstreamServer server, string uri), Dictionary<GatewaySession, string> sessions) in _subscribers.ToList())
            {
                if (sessions.Remove(session) && sessions.Count == 0)
                {
                    _subscribers.Remove((server, uri));
                    released.Add((server, uri));
                }
            }
        }

        return released;
    }

    /// <summary>The sessions subscribed to a downstream resource, each with the URI it knows the resource by.</summary>
    public List<(GatewaySession Session, string ExposedUri)> SubscribersOf(DownstreamServer server, string serverUri)
    {
        lock (_lock)
        {
            return _subscribers.TryGetValue((server, serverUri), out Dictionary<GatewaySession, string>? sessions)
                ? [.. sessions.Select(kv => (kv.Key, kv.Value))]
                : [];
        }
    }

    public static string? UriOf(JsonObject parameters) => parameters["uri"] is JsonValue uri && uri.TryGetValue(out string? text) ? text : null;
}
