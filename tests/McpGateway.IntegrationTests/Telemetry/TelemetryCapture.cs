using System.Collections;
using System.Diagnostics;
using McpGateway.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace McpGateway.IntegrationTests.Telemetry;

/// <summary>
/// The in-memory exporters of one test gateway: its spans, and its metrics on demand. Waits are on events (a span
/// ending), never on time. The gateway's ActivitySource and Meter are process-wide, so the exporters of one gateway
/// also see what other gateways in this test process do: tests find their own spans by trace id or by an agent of
/// their own, and their metric points by an agent or server name no other test uses.
/// </summary>
internal sealed class TelemetryCapture
{
    private readonly SpanLog _spans = new();
    private readonly LockedList<MetricSnapshot> _metrics = new();

    /// <summary>Registers the exporters: for <see cref="Infrastructure.InProcessGateway.StartAsync"/>'s <c>configureServices</c>.</summary>
    public void Register(IServiceCollection services)
    {
        services.AddOpenTelemetry().WithTracing(tracing => tracing.AddSource(GatewayTelemetry.Name).AddInMemoryExporter(_spans));
        services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddInMemoryExporter(_metrics));
    }

    /// <summary>Waits until <paramref name="count"/> spans matching <paramref name="match"/> have ended.</summary>
    public Task<IReadOnlyList<Activity>> WaitForSpansAsync(Func<Activity, bool> match, int count = 1) =>
        _spans.WaitAsync(match, count).Within($"{count} matching span(s) to end", TestContext.Current.CancellationToken);

    /// <summary>The spans of one trace, when its SERVER span (the last to end) has ended.</summary>
    public async Task<(Activity Server, Activity Client)> WaitForCallAsync(ActivityTraceId trace)
    {
        IReadOnlyList<Activity> server = await WaitForSpansAsync(s => s.TraceId == trace && s.Kind == ActivityKind.Server);
        IReadOnlyList<Activity> client = await WaitForSpansAsync(s => s.TraceId == trace && s.Kind == ActivityKind.Client);
        return (Assert.Single(server), Assert.Single(client));
    }

    /// <summary>Collects the metrics now and returns their snapshot (cumulative since the gateway started).</summary>
    public IReadOnlyList<MetricSnapshot> CollectMetrics(IServiceProvider services)
    {
        _metrics.Clear();

        // False here means only that another reader (Prometheus, which is pulled by scrapes) exported nothing.
        services.GetRequiredService<MeterProvider>().ForceFlush(30_000);
        MetricSnapshot[] collected = _metrics.ToArray();
        Assert.NotEmpty(collected);
        return collected;
    }

    /// <summary>The points of metric <paramref name="name"/> whose tags include every one of <paramref name="tags"/>.</summary>
    public static List<MetricPoint> Points(IReadOnlyList<MetricSnapshot> metrics, string name, params (string Key, string Value)[] tags)
    {
        var points = new List<MetricPoint>();
        foreach (MetricSnapshot metric in metrics.Where(m => m.Name == name))
        {
            foreach (MetricPoint point in metric.MetricPoints)
            {
                Dictionary<string, string?> actual = Tags(point);
                if (tags.All(t => actual.TryGetValue(t.Key, out string? value) && value == t.Value))
                {
                    points.Add(point);
                }
            }
        }

        return points;
    }

    public static Dictionary<string, string?> Tags(in MetricPoint point)
    {
        var tags = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, object?> tag in point.Tags)
        {
            tags[tag.Key] = tag.Value?.ToString();
        }

        return tags;
    }

    /// <summary>A list the exporter writes from the thread that ends a span, which tests read and wait on.</summary>
    private sealed class SpanLog : LockedList<Activity>
    {
        private readonly List<(Func<Activity, bool> Match, int Count, TaskCompletionSource<IReadOnlyList<Activity>> Done)> _waiters = [];

        public Task<IReadOnlyList<Activity>> WaitAsync(Func<Activity, bool> match, int count)
        {
            var done = new TaskCompletionSource<IReadOnlyList<Activity>>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (Sync)
            {
                _waiters.Add((match, count, done));
                Check();
            }

            return done.Task;
        }

        protected override void Added()
        {
            Check();
        }

        private void Check()
        {
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                (Func<Activity, bool> match, int count, TaskCompletionSource<IReadOnlyList<Activity>> done) = _waiters[i];
                List<Activity> found = Items.Where(match).ToList();
                if (found.Count >= count)
                {
                    _waiters.RemoveAt(i);
                    done.TrySetResult(found);
                }
            }
        }
    }

    private class LockedList<T> : ICollection<T>
    {
        protected object Sync { get; } = new();

        protected List<T> Items { get; } = [];

        public int Count
        {
            get
            {
                lock (Sync)
                {
                    return Items.Count;
                }
            }
        }

        public bool IsReadOnly => false;

        public void Add(T item)
        {
            lock (Sync)
            {
                Items.Add(item);
                Added();
            }
        }

        public void Clear()
        {
            lock (Sync)
            {
                Items.Clear();
            }
        }

        public bool Contains(T item)
        {
            lock (Sync)
            {
                return Items.Contains(item);
            }
        }

        public void CopyTo(T[] array, int arrayIndex)
        {
            lock (Sync)
            {
                Items.CopyTo(array, arrayIndex);
            }
        }

        public bool Remove(T item)
        {
            lock (Sync)
            {
                return Items.Remove(item);
            }
        }

        public T[] ToArray()
        {
            lock (Sync)
            {
                return [.. Items];
            }
        }

        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)ToArray()).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        protected virtual void Added()
        {
        }
    }
}
