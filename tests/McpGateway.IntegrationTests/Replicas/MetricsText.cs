using System.Globalization;
using System.Text.RegularExpressions;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>Reads samples out of a Prometheus text exposition (what <c>GET /metrics</c> answers).</summary>
internal static partial class MetricsText
{
    /// <summary>The sum of the samples of <paramref name="metric"/> whose labels satisfy <paramref name="where"/>.</summary>
    public static double Sum(string exposition, string metric, Func<IReadOnlyDictionary<string, string>, bool> where)
    {
        double sum = 0;
        foreach (string line in exposition.Split('\n'))
        {
            Match sample = Sample().Match(line);
            if (!sample.Success || sample.Groups["name"].Value != metric)
            {
                continue;
            }

            var labels = Label().Matches(sample.Groups["labels"].Value).ToDictionary(m => m.Groups["key"].Value, m => m.Groups["value"].Value, StringComparer.Ordinal);
            if (where(labels))
            {
                sum += double.Parse(sample.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)")]
    private static partial Regex Sample();

    [GeneratedRegex(@"(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}
