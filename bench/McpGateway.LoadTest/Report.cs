using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace McpGateway.LoadTest;

/// <summary>The benchmark's Markdown report: the goals at a glance, then every target's medians.</summary>
internal static partial class Report
{
    private const string FastDirect = "fast, direct stdio";
    private const string EverythingDirect = "everything, direct stdio";
    private const string Stateful = "gateway http stateful";

    public static string Markdown(IReadOnlyList<LoadResult> results, BenchSettings settings)
    {
        Row[] rows = [.. results.GroupBy(r => (r.Target, r.Sessions)).OrderBy(g => g.Key.Sessions).Select(g => new Row(g.Key.Target, g.Key.Sessions, [.. g]))];
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{settings.Calls} `tools/call` of `echo` per run after a warm-up of at least {settings.Warmup.TotalSeconds:F0} s; {settings.Repeat} rounds, targets interleaved, medians shown. Machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}.");
        sb.AppendLine();
        Goals(sb, rows, results);
        AuthenticationAndAudit(sb, rows, results);
        sb.AppendLine("### Every target");
        sb.AppendLine();
        sb.AppendLine("| target | N | calls/s | vs direct | p50 µs | p90 µs | p99 µs | errors | CPU µs/call (processes under test) | load generator µs/call |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (Row row in rows)
        {
            double direct = Find(rows, row.Downstream + ", direct stdio", row.Sessions)?.Rate ?? double.NaN;
            string cpu = string.Join("; ", row.Cpu.Where(c => c.Key != "load generator").Select(c => $"{c.Key} {c.Value:F0}"));
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Target} | {row.Sessions} | {row.Rate:F0} | {row.Rate / direct:F2} | {row.P50:F0} | {row.P90:F0} | {row.P99:F0} | {row.Errors} | {cpu} | {row.Cpu.GetValueOrDefault("load generator", double.NaN):F0} |");
        }

        sb.AppendLine();
        return sb.ToString();
    }

    /// <summary>
    /// The <c>--replicas</c> report: one gateway reached directly, then HAProxy in front of one and of three, per
    /// downstream server; CPU per call summed over the gateways, over the servers they started, and HAProxy's.
    /// </summary>
    public static string Replicas(IReadOnlyList<LoadResult> results, BenchSettings settings)
    {
        Row[] rows = [.. results.GroupBy(r => (r.Target, r.Sessions)).OrderBy(g => g.Key.Sessions).Select(g => new Row(g.Key.Target, g.Key.Sessions, [.. g]))];
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{settings.Calls} `tools/call` of `echo` per run after a warm-up of at least {settings.Warmup.TotalSeconds:F0} s; {settings.Repeat} rounds, targets interleaved, medians shown. Machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}.");
        sb.AppendLine("Every process (load generator, HAProxy, gateways, their servers) shares these cores. HAProxy: round robin over every request, no stickiness, `http-reuse safe`, health checks on `/readyz` every 500 ms; each gateway starts its own copy of the downstream server.");
        sb.AppendLine();
        sb.AppendLine("| target | N | calls/s | vs one gateway direct (same mode) | p50 µs | p90 µs | p99 µs | errors | CPU µs/call: gateways | servers | haproxy | load generator |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (Row row in rows.OrderBy(r => r.Downstream, StringComparer.Ordinal).ThenBy(r => r.Sessions).ThenBy(r => r.Target.Contains("stateful", StringComparison.Ordinal))
            .ThenBy(r => r.Target.StartsWith("haproxy", StringComparison.Ordinal)).ThenBy(r => r.Target, StringComparer.Ordinal))
        {
            string mode = row.Target.Contains("stateful", StringComparison.Ordinal) ? "stateful" : "stateless";
            double direct = Find(rows, $"gateway http {mode} → {row.Downstream}", row.Sessions)?.Rate ?? double.NaN;
            double Sum(Func<string, bool> which) => row.Cpu.Where(c => which(c.Key)).Sum(c => c.Value);
            double gateways = Sum(k => k == "gateway" || k.StartsWith("gateway ", StringComparison.Ordinal));
            double servers = Sum(k => k.Contains("(child)", StringComparison.Ordinal));
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Target} | {row.Sessions} | {row.Rate:F0} | {row.Rate / direct:F2} | {row.P50:F0} | {row.P90:F0} | {row.P99:F0} | {row.Errors} | {gateways:F0} | {servers:F0} | {row.Cpu.GetValueOrDefault("haproxy", double.NaN):F0} | {row.Cpu.GetValueOrDefault("load generator", double.NaN):F0} |");
        }

        sb.AppendLine();
        return sb.ToString();
    }

    /// <summary>The issue's goals, each with the figure that decides it.</summary>
    private static void Goals(StringBuilder sb, Row[] rows, IReadOnlyList<LoadResult> results)
    {
        sb.AppendLine("### Goals");
        sb.AppendLine();
        sb.AppendLine("| goal | measured |");
        sb.AppendLine("|---|---|");
        foreach (string link in (string[])["stdio", "http stateful", "http stateless"])
        {
            Row? fast = Find(rows, $"gateway {link} → fast", 16);
            Row? everything = Find(rows, $"gateway {link} → everything", 16);
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| gateway CPU per forwarded call ≤ 100 µs at N=16 ({link}) | {fast?.Cpu.GetValueOrDefault("gateway", double.NaN):F0} µs (→ fast), {everything?.Cpu.GetValueOrDefault("gateway", double.NaN):F0} µs (→ everything) |");
        }

        double directEverything = Find(rows, EverythingDirect, 16)?.Rate ?? double.NaN;
        foreach (string link in (string[])["http stateful", "http stateless", "stdio"])
        {
            Row? through = Find(rows, $"gateway {link} → everything", 16);
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| throughput ≥ 0.9 × direct stdio at N=16 ({link} → everything) | {through?.Rate / directEverything:F2} ({through?.Rate:F0} vs {directEverything:F0} calls/s) |");
        }

        Row? directFast = Find(rows, FastDirect, 1);
        foreach (string link in (string[])["stdio", "http stateful", "http stateless"])
        {
            Row? through = Find(rows, $"gateway {link} → fast", 1);
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| added p50 latency ≤ 100 µs at N=1 ({link} → fast) | {through?.P50 - directFast?.P50:F0} µs ({through?.P50:F0} vs {directFast?.P50:F0} µs direct) |");
        }

        Row[] peers = [.. rows.Where(r => r.Sessions == 16 && r.Downstream == "everything" && !r.Target.StartsWith("gateway ", StringComparison.Ordinal) && r.Target != EverythingDirect)];
        Row? bestPeer = peers.OrderByDescending(p => p.Rate).FirstOrDefault();
        Row? gatewayHttp = new[] { Find(rows, "gateway http stateful → everything", 16), Find(rows, "gateway http stateless → everything", 16) }
            .Where(r => r is not null).OrderByDescending(r => r!.Rate).FirstOrDefault();
        if (bestPeer is not null && gatewayHttp is not null)
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| ≥ 1.5 × the best peer's calls/s at N=16, lower p99 | {gatewayHttp.Rate / bestPeer.Rate:F2} × ({gatewayHttp.Target} {gatewayHttp.Rate:F0} vs {bestPeer.Target} {bestPeer.Rate:F0} calls/s); p99 {gatewayHttp.P99:F0} vs {bestPeer.P99:F0} µs |");
        }

        if (rows.Any(r => r.Target.StartsWith(Stateful + ",", StringComparison.Ordinal) && r.Sessions == 16))
        {
            string Added(string variant) => string.Join(", ", ((string[])["fast", "everything"]).Select(d => $"{Signed(AddedCpu(results, variant, d, 16))} µs (→ {d})"));
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| added gateway CPU per call of authentication and audit together ≤ 10 µs at N=16 (http stateful) | API key + audit: {Added(", api key + audit")}; JWT + audit: {Added(", jwt + audit")} |");
        }

        sb.AppendLine("| policy decision < 100 ns, no allocation; tools/list of 10,000 tools < 1 ms | BenchmarkDotNet: `dotnet run -c Release --project bench/McpGateway.Benchmarks` (see README) |");
        sb.AppendLine("| start-up within 1.2 × the slowest server; memory | see Scale below |");
        sb.AppendLine();
    }

    /// <summary>
    /// The stateful HTTP gateway with each credential and the audit log, against the same gateway without them: the
    /// gateway's CPU per call, and what each adds (the median over rounds of the difference within a round).
    /// </summary>
    private static void AuthenticationAndAudit(StringBuilder sb, Row[] rows, IReadOnlyList<LoadResult> results)
    {
        Row[] variants = [.. rows.Where(r => r.Target.StartsWith(Stateful + ",", StringComparison.Ordinal))];
        if (variants.Length == 0)
        {
            return;
        }

        sb.AppendLine("### Authentication and audit");
        sb.AppendLine();
        sb.AppendLine("Gateway CPU per call over stateful HTTP (calls taken by the fast path), with an API key (`Authorization: Bearer mgw_…`), " +
            "a JWT (RS256, validated against a static JWKS), the audit log to a file (argument values off), and each credential with the audit, " +
            "against the same gateway without them (agents name themselves with `X-Agent-Id`). *Added* is the median over the rounds of " +
            "(variant − plain) within one round: rounds interleave the targets, so the two runs of a difference are close in time.");
        sb.AppendLine();
        sb.AppendLine("| N | gateway http stateful | CPU µs/call → fast | added | CPU µs/call → everything | added |");
        sb.AppendLine("|---|---|---|---|---|---|");
        foreach (int sessions in variants.Select(v => v.Sessions).Distinct().Order())
        {
            foreach (string variant in (string[])["", ", api key", ", jwt", ", audit", ", api key + audit", ", jwt + audit"])
            {
                Row? fast = Find(rows, $"{Stateful}{variant} → fast", sessions);
                Row? everything = Find(rows, $"{Stateful}{variant} → everything", sessions);
                if (fast is null && everything is null)
                {
                    continue;
                }

                string name = variant.Length == 0 ? "plain (X-Agent-Id)" : variant[2..];
                string AddedText(string downstream) => variant.Length == 0 ? "—" : Signed(AddedCpu(results, variant, downstream, sessions));
                sb.AppendLine(CultureInfo.InvariantCulture,
                    $"| {sessions} | {name} | {fast?.Cpu.GetValueOrDefault("gateway", double.NaN):F1} | {AddedText("fast")} | {everything?.Cpu.GetValueOrDefault("gateway", double.NaN):F1} | {AddedText("everything")} |");
            }
        }

        sb.AppendLine();
    }

    /// <summary>The median over rounds of the gateway's CPU per call with <paramref name="variant"/> minus without, round by round.</summary>
    private static double AddedCpu(IReadOnlyList<LoadResult> results, string variant, string downstream, int sessions)
    {
        LoadResult[] plain = [.. results.Where(r => r.Target == $"{Stateful} → {downstream}" && r.Sessions == sessions)];
        LoadResult[] with = [.. results.Where(r => r.Target == $"{Stateful}{variant} → {downstream}" && r.Sessions == sessions)];
        return Median(plain.Zip(with, (p, w) => w.CpuMicrosPerCall.GetValueOrDefault("gateway", double.NaN) - p.CpuMicrosPerCall.GetValueOrDefault("gateway", double.NaN)));
    }

    private static string Signed(double value) => double.IsNaN(value) ? "n/a" : value.ToString("+0.0;−0.0;0.0", CultureInfo.InvariantCulture);

    private static Row? Find(Row[] rows, string target, int sessions) => rows.FirstOrDefault(r => r.Target == target && r.Sessions == sessions);

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Where(v => !double.IsNaN(v)).Order()];
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }

    /// <summary>Medians of one target at one N over the rounds; per-session children of a peer are summed into one figure.</summary>
    private sealed class Row
    {
        public Row(string target, int sessions, LoadResult[] runs)
        {
            Target = target;
            Sessions = sessions;
            Rate = Median(runs.Select(r => r.CallsPerSecond));
            P50 = Median(runs.Select(r => r.P50Micros));
            P90 = Median(runs.Select(r => r.P90Micros));
            P99 = Median(runs.Select(r => r.P99Micros));
            Errors = runs.Sum(r => r.Errors);
            Downstream = target.Contains('→', StringComparison.Ordinal) ? target[(target.LastIndexOf('→') + 2)..] : target.Split(',')[0];
            var merged = runs.Select(Merge).ToList();
            Cpu = merged.SelectMany(m => m.Keys).Distinct().ToDictionary(k => k, k => Median(merged.Select(m => m.GetValueOrDefault(k, double.NaN))));
        }

        public string Target { get; }

        public int Sessions { get; }

        public string Downstream { get; }

        public double Rate { get; }

        public double P50 { get; }

        public double P90 { get; }

        public double P99 { get; }

        public int Errors { get; }

        public Dictionary<string, double> Cpu { get; }

        private static Dictionary<string, double> Merge(LoadResult run)
        {
            var merged = new Dictionary<string, double>();
            foreach ((string name, double micros) in run.CpuMicrosPerCall)
            {
                Match child = ChildNumber().Match(name);
                string key = child.Success ? name[..child.Index] + " (all children)" : name;
                merged[key] = merged.GetValueOrDefault(key) + micros;
            }

            return merged;
        }
    }

    [GeneratedRegex(@" \(child \d+\)$")]
    private static partial Regex ChildNumber();
}
