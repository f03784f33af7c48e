using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>Issue 9: Orleans' failure detection as the product tunes it
/// (SchedulerSiloExtensions.TuneFailureDetection), on three real silo processes. With both cores
/// kept busy by other processes for 20 s while tasks run, no silo is declared dead (a false death
/// would stop a healthy silo: Orleans ends a silo that finds itself dead); a SIGKILLed silo is
/// declared dead in the membership table within 3 s, and GET /api/workers lists it DEAD. (This
/// replaces a test of the old layer's heartbeat transaction, which no longer exists: Orleans'
/// membership protocol is what declares silos dead now.)</summary>
[Collection(ClusterCollection.Name)]
public sealed class FailureDetectionTests(ITestOutputHelper log) : ProcessClusterTest(log)
{
    /// <summary>The issue's bound for a killed silo to be declared dead.</summary>
    private static readonly TimeSpan DeclaredDeadBound = TimeSpan.FromSeconds(3);

    /// <summary>How long the cores are kept busy.</summary>
    private static readonly TimeSpan BusyFor = TimeSpan.FromSeconds(20);

    [SkippableFact]
    public async Task No_silo_is_declared_dead_while_the_cores_are_busy_and_a_sigkilled_one_is_within_3_s()
    {
        var server = TestPostgres.RequireServer();
        var cluster = await StartClusterAsync(server);

        // 1. Both cores busy (two spinning processes per core, at the silos' own priority) while the
        // cluster runs tasks: the membership table is watched all along.
        var work = Enumerable.Range(0, 60).Select(i => (object)new { id = $"busy-{i:00}", type = "e2e", duration_ms = 1000 }).ToList();
        var acknowledged = await cluster.Api.SubmitBatchAsync(work);
        var spinners = Enumerable.Range(0, 2 * Environment.ProcessorCount).Select(_ => Spin()).ToList();
        var suspicions = new HashSet<string>(StringComparer.Ordinal);
        var busyUntil = DateTimeOffset.UtcNow + BusyFor;
        List<MembershipRow> rows;
        try
        {
            rows = await cluster.WaitAsync(
                $"{BusyFor.TotalSeconds:0} s of busy cores pass, or a silo is declared dead",
                async () =>
                {
                    var now = await cluster.MembershipAsync();
                    foreach (var row in now.Where(r => r.SuspectTimes is { Length: > 0 }))
                    {
                        suspicions.Add($"{row.Silo} suspected by {row.SuspectTimes}");
                    }

                    return now;
                },
                now => now.Any(r => r.Status != MembershipRow.Active) || DateTimeOffset.UtcNow >= busyUntil,
                MembershipRow.Describe,
                BusyFor + TimeSpan.FromSeconds(30));
        }
        finally
        {
            foreach (var spinner in spinners)
            {
                spinner.Kill();
                spinner.WaitForExit();
                spinner.Dispose();
            }
        }

        Log.WriteLine($"after {BusyFor.TotalSeconds:0} s with {spinners.Count} spinning processes: {MembershipRow.Describe(rows)}");
        Log.WriteLine(suspicions.Count == 0 ? "no silo was suspected" : $"suspicions (votes, not deaths): {string.Join("; ", suspicions)}");
        Assert.True(rows.Count == cluster.Silos.Count && rows.All(r => r.Status == MembershipRow.Active),
            $"a silo was declared dead (or left) while the cores were busy: {MembershipRow.Describe(rows)}\n{await cluster.DescribeAsync()}");
        Assert.All(cluster.Silos, s => Assert.True(s.IsRunning, $"{s.Name} exited while the cores were busy\n{s.Output()}"));
        await cluster.WaitAllCompletedAsync(acknowledged);

        // 2. SIGKILL one silo: the membership table says Dead within the bound, then /api/workers.
        var victim = cluster.Silos[^1];
        var killed = Stopwatch.StartNew();
        victim.KillHard();
        var killedAt = DateTimeOffset.UtcNow;
        await cluster.WaitAsync(
            $"the membership table lists the killed {victim.Name} Dead",
            cluster.MembershipAsync,
            now => now.Any(r => r.Silo == victim.Name && r.Status == MembershipRow.Dead),
            MembershipRow.Describe);
        var declaredDead = killed.Elapsed;
        await cluster.WaitAsync(
            $"/api/workers lists {victim.Name} DEAD",
            cluster.WorkersAsync,
            workers => workers.Any(w => (string?)w["id"] == victim.Name && (string?)w["status"] == "DEAD"),
            workers => new JsonArray([.. workers.Select(w => w.DeepClone())]).ToJsonString());
        var listedDead = killed.Elapsed;
        Log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"DECLARED-DEAD {victim.Name} (SIGKILL at {killedAt:HH:mm:ss.fff}): Dead in the membership table after {declaredDead.TotalSeconds:0.00} s, DEAD in /api/workers after {listedDead.TotalSeconds:0.00} s (bound {DeclaredDeadBound.TotalSeconds:0} s)"));
        Assert.True(declaredDead <= DeclaredDeadBound,
            $"{victim.Name} was declared dead {declaredDead.TotalSeconds:0.00} s after SIGKILL; the bound is {DeclaredDeadBound.TotalSeconds:0} s\n{await cluster.DescribeAsync()}");
    }

    /// <summary>A process that spins on one core until killed.</summary>
    private static Process Spin()
    {
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("while :; do :; done");
        return Process.Start(start) ?? throw new InvalidOperationException("/bin/sh did not start.");
    }
}
