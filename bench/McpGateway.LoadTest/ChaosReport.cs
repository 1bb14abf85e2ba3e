using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace McpGateway.LoadTest;

/// <summary>The chaos soak's figures as Markdown.</summary>
internal static partial class ChaosReport
{
    public static string Markdown(ChaosResult r)
    {
        var md = new StringBuilder();
        ChaosCall[] load = [.. r.Calls];
        ChaosCall[] control = [.. r.Kills.Select(k => k.Hang), .. r.Reloads.Select(x => x.Check)];
        ChaosCall[] all = [.. load, .. control];
        md.AppendLine(Invariant($"The published gateway over Streamable HTTP (stateful, 2025-11-25, raw JSON-RPC so every response on the wire is counted) in front of five stdio servers: `victim` (the fixture, call timeout 10 min), `steady` (the fixture), `everything` (server-everything from npm), `stall` (the fixture's `hang`, which never answers; call timeout {ChaosSoak.StallTimeoutMs} ms) and `extra` (added and removed by reloads). {r.Options.Sessions} sessions call without pause (half on the fast path, half through the SDK's handlers; every fourth session calls `stall` every eighth call) for {r.Seconds:F0} s while `victim` is killed with SIGKILL {r.Kills.Count} times, each time with a call (`hang`) seen arriving at it first, and the configuration is reloaded {r.Reloads.Count} times (every other kill, while the victim is down: `extra` added or removed, `steady_fail` denied or allowed). Supervision settings: `{r.Supervision}`."));
        md.AppendLine();

        md.AppendLine("### Calls");
        md.AppendLine();
        md.AppendLine("| server | calls | answered exactly once | succeeded | success rate |");
        md.AppendLine("|---|---|---|---|---|");
        foreach (IGrouping<string, ChaosCall> server in load.GroupBy(c => c.Server).OrderBy(g => Order(g.Key)))
        {
            md.AppendLine(Invariant($"| {server.Key} | {server.Count():N0} | {server.Count(c => c.AnsweredOnce):N0} | {server.Count(c => c.Succeeded):N0} | {Rate(server)} |"));
        }

        md.AppendLine(Invariant($"| the load | **{load.Length:N0}** | **{load.Count(c => c.AnsweredOnce):N0}** | {load.Count(c => c.Succeeded):N0} | |"));
        md.AppendLine(Invariant($"| the soak's own calls (`victim_hang` before each kill, `steady_fail` after each reload) | {control.Length:N0} | {control.Count(c => c.AnsweredOnce):N0} | | |"));
        md.AppendLine();
        md.AppendLine(Invariant($"The servers nobody touched (`steady`, `everything`): {load.Count(c => c.Server is "steady" or "everything" && c.Succeeded):N0} of {load.Count(c => c.Server is "steady" or "everything"):N0} calls succeeded with their own answer ({Rate(load.Where(c => c.Server is "steady" or "everything"))})."));
        md.AppendLine();
        md.AppendLine("Answers by kind (numbers in messages shown as N; the soak's own calls included):");
        md.AppendLine();
        md.AppendLine("| server | answer | count |");
        md.AppendLine("|---|---|---|");
        foreach (IGrouping<(string Server, string Kind), ChaosCall> kind in all.GroupBy(c => (c.Server, c.Kind)).OrderBy(g => Order(g.Key.Server)).ThenByDescending(g => g.Count()))
        {
            md.AppendLine(Invariant($"| {kind.Key.Server} | {Cell(kind.Key.Kind)} | {kind.Count():N0} |"));
        }

        md.AppendLine();
        md.AppendLine("### Kills");
        md.AppendLine();
        var inFlight = new List<(int Kill, double WaitMs, ChaosCall Call)>();
        foreach (ChaosKill kill in r.Kills)
        {
            inFlight.Add((kill.Index, kill.HangWaitMs, kill.Hang));
            inFlight.AddRange(load.Where(c => c.Server == "victim" && c.Started < kill.KilledAt && c.Ended > kill.KilledAt).Select(c => (kill.Index, (c.Ended - kill.KilledAt) * 1000.0 / Stopwatch.Frequency, c)));
        }

        double[] waits = [.. inFlight.Select(i => i.WaitMs)];
        double[] recoveries = [.. r.Kills.Select(k => k.RecoveryMs)];
        double[] backoffs = [.. r.Kills.Where(k => k.BackoffSeconds is not null).Select(k => k.BackoffSeconds!.Value * 1000)];
        double[] overheads = [.. r.Kills.Where(k => k.BackoffSeconds is not null).Select(k => k.RecoveryMs - (k.BackoffSeconds!.Value * 1000))];
        md.AppendLine("| | min | median | p90 | max |");
        md.AppendLine("|---|---|---|---|---|");
        md.AppendLine(Row($"wait from the kill to the answer of a call in flight on the victim ({waits.Length} calls: {r.Kills.Count} `hang`, {waits.Length - r.Kills.Count} of the load), ms; goal ≤ 2,000", waits));
        md.AppendLine(Row("time from the kill until the victim is ready again, ms", recoveries));
        md.AppendLine(Row("reconnect delay the gateway announced (backoff), ms", backoffs));
        md.AppendLine(Row("recovery minus that delay (noticing the death, starting the process, initialize, tools/list), ms", overheads));
        md.AppendLine();
        md.AppendLine("What the calls in flight at a kill were answered:");
        md.AppendLine();
        md.AppendLine("| answer | calls |");
        md.AppendLine("|---|---|");
        foreach (IGrouping<string, (int Kill, double WaitMs, ChaosCall Call)> kind in inFlight.GroupBy(i => (i.Call.Tool == "victim_hang" ? "`hang`: " : "load: ") + i.Call.Kind).OrderByDescending(g => g.Count()))
        {
            md.AppendLine(Invariant($"| {Cell(kind.Key)} | {kind.Count():N0} |"));
        }

        md.AppendLine();
        md.AppendLine("By ten kills (the backoff doubles from 100 ms to its 1 s cap while failures stay within the 120 s window):");
        md.AppendLine();
        md.AppendLine("| kills | max wait of a call in flight, ms | backoff, ms | recovery, ms (min–max) |");
        md.AppendLine("|---|---|---|---|");
        foreach (IGrouping<int, ChaosKill> ten in r.Kills.GroupBy(k => (k.Index - 1) / 10))
        {
            double[] tenWaits = [.. inFlight.Where(i => (i.Kill - 1) / 10 == ten.Key).Select(i => i.WaitMs)];
            double[] tenBackoffs = [.. ten.Where(k => k.BackoffSeconds is not null).Select(k => k.BackoffSeconds!.Value * 1000)];
            md.AppendLine(Invariant($"| {ten.First().Index}–{ten.Last().Index} | {tenWaits.Max():F0} | {(tenBackoffs.Length == 0 ? "?" : $"{tenBackoffs.Min():F0}–{tenBackoffs.Max():F0}")} | {ten.Min(k => k.RecoveryMs):F0}–{ten.Max(k => k.RecoveryMs):F0} |"));
        }

        md.AppendLine();
        md.AppendLine("### Reloads");
        md.AppendLine();
        double[] reloadMs = [.. r.Reloads.Select(x => x.Milliseconds)];
        md.AppendLine(Invariant($"{r.Reloads.Count(x => x.Applied)} of {r.Reloads.Count} `POST /admin/reload` applied (median {Percentile(reloadMs, 0.5):F0} ms, max {Max(reloadMs):F0} ms); the changed rule held on the very next call {r.Reloads.Count(x => x.RuleHeld)} of {r.Reloads.Count} times. The gateway logged {r.ReloadLines} \"Reloaded:\" lines (its file watcher reloads too, after each edit); lines where a reload restarted a server: {r.ReloadsThatRestarted.Count}."));
        foreach (string line in r.ReloadsThatRestarted.Take(5))
        {
            md.AppendLine("    " + line);
        }

        foreach (ChaosReload refused in r.Reloads.Where(x => !x.Applied || !x.RuleHeld).Take(5))
        {
            md.AppendLine(Invariant($"- reload {refused.Index}: {refused.Summary}; rule check: {refused.Check.Kind}"));
        }

        md.AppendLine();
        md.AppendLine("### Processes, descriptors, memory");
        md.AppendLine();
        md.AppendLine("| gateway | " + string.Join(" | ", r.Snapshots.Select(x => Invariant($"{x.When} ({x.Calls:N0} calls)"))) + " |");
        md.AppendLine("|---|" + string.Concat(r.Snapshots.Select(_ => "---|")));
        md.AppendLine("| resident memory (VmRSS) | " + string.Join(" | ", r.Snapshots.Select(x => Invariant($"{x.ResidentMiB:F0} MiB"))) + " |");
        md.AppendLine("| peak resident memory (VmHWM) | " + string.Join(" | ", r.Snapshots.Select(x => Invariant($"{x.PeakResidentMiB:F0} MiB"))) + " |");
        md.AppendLine("| open file descriptors | " + string.Join(" | ", r.Snapshots.Select(x => Invariant($"{x.Descriptors.Values.Sum()}: ") + string.Join(", ", x.Descriptors.Select(d => $"{d.Value} {d.Key}")))) + " |");
        md.AppendLine("| child processes | " + string.Join(" | ", r.Snapshots.Select(Children)) + " |");
        md.AppendLine("| zombies | " + string.Join(" | ", r.Snapshots.Select(x => x.Descendants.Count(d => d.State == 'Z').ToString(CultureInfo.InvariantCulture))) + " |");
        md.AppendLine();
        md.AppendLine(Invariant($"After SIGTERM the gateway {(r.StoppedCleanly ? "exited" : "did not exit within 30 s and was killed")}; of every process it started during the soak, {r.LeftBehind.Count} {(r.LeftBehind.Count == 1 ? "is" : "are")} still running{(r.LeftBehind.Count > 0 ? ": " + string.Join(", ", r.LeftBehind) : string.Empty)}."));
        md.AppendLine();
        string[] errorKinds = [.. r.GatewayErrors.Select(Numberless).GroupBy(l => l).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()} × `{g.Key}`")];
        md.AppendLine(Invariant($"Gateway log lines at error level or naming an unhandled exception: {r.GatewayErrors.Count}{(errorKinds.Length > 0 ? ":" : ".")}"));
        foreach (string kind in errorKinds.Take(10))
        {
            md.AppendLine("- " + kind);
        }

        md.AppendLine();
        md.AppendLine("### A 50 MB reply through the bounded-reply limit");
        md.AppendLine();
        md.AppendLine("A fresh gateway in front of two fixtures: `bounded` (default `maxMessageBytes`, 16 MiB) and `unbounded` (`maxMessageBytes` 64 MiB). `big` answers with a 50,000,000-byte text.");
        md.AppendLine();
        md.AppendLine("| step | answer | gateway VmRSS | peak (VmHWM) |");
        md.AppendLine("|---|---|---|---|");
        foreach (ChaosMemoryStep step in r.Memory)
        {
            md.AppendLine(Invariant($"| {step.Step} | {Cell(step.Answer)} | {step.ResidentMiB:F0} MiB | {step.PeakResidentMiB:F0} MiB |"));
        }

        return md.ToString();
    }

    private static int Order(string server) => Array.IndexOf((string[])["victim", "steady", "everything", "stall", "extra"], server) is var i and >= 0 ? i : 99;

    private static string Rate(IEnumerable<ChaosCall> calls)
    {
        ChaosCall[] all = [.. calls];
        return all.Length == 0 ? "-" : Invariant($"{100.0 * all.Count(c => c.Succeeded) / all.Length:F2} %");
    }

    private static string Children(ChaosSnapshot snapshot) =>
        snapshot.Descendants.Count + ": " + string.Join(", ", snapshot.Descendants.GroupBy(d => ProcessView.Name(d.Command)).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Count() == 1 ? g.Key : $"{g.Key} ×{g.Count()}"));

    private static string Row(string what, double[] values) =>
        values.Length == 0 ? $"| {what} | - | - | - | - |" : Invariant($"| {what} | {values.Min():F0} | {Percentile(values, 0.5):F0} | {Percentile(values, 0.9):F0} | {values.Max():F0} |");

    private static double Max(double[] values) => values.Length == 0 ? double.NaN : values.Max();

    private static double Percentile(double[] values, double quantile)
    {
        if (values.Length == 0)
        {
            return double.NaN;
        }

        double[] sorted = [.. values.Order()];
        return sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string Numberless(string text) => Digits().Replace(text.Length > 200 ? text[..200] : text, "N");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"\d+")]
    private static partial Regex Digits();
}
