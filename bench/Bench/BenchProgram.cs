using System.Diagnostics;

namespace OrleansScheduler.Bench;

/// <summary>Entry point: <c>dotnet run -c Release --project bench/Bench -- [scenario ...] [--flag value ...]</c>.</summary>
public static class BenchProgram
{
    public static readonly string[] Scenarios = ["drain", "submit", "handoff", "fidelity", "dag", "limit", "peer", "memory", "cluster", "workers"];

    public static async Task<int> RunAsync(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            PrintUsage();
            return 2;
        }

        if (options.Scenarios.Contains("help") || options.Flag("help"))
        {
            PrintUsage();
            return 0;
        }

        if (options.Retired() is { Count: > 0 } retired)
        {
            foreach (var message in retired)
            {
                await Console.Error.WriteLineAsync(message);
            }

            return 2;
        }

        var selected = options.Scenarios.Count == 0 || options.Scenarios.Contains("all")
            ? Scenarios.ToList()
            : options.Scenarios;
        var unknown = selected.Where(s => !Scenarios.Contains(s)).ToList();
        if (unknown.Count > 0)
        {
            await Console.Error.WriteLineAsync($"unknown scenario(s): {string.Join(", ", unknown)}");
            PrintUsage();
            return 2;
        }

        options.QuickDefaults = options.Scenarios.Count == 0 || options.Scenarios.Contains("all");
        Rig.OrleansDashboard = options.Text("orleans-dashboard", "on") switch
        {
            "on" => true,
            "off" => false,
            var other => throw new ArgumentException($"--orleans-dashboard must be on or off, not '{other}'"),
        };
        var report = new Report(args);
        Console.WriteLine($"OrleansScheduler bench: {string.Join(", ", selected)} on {Environment.ProcessorCount} cores, {report.Machine.Os}, .NET {Environment.Version}; load average {report.LoadAtStart}");
        var failed = false;
        if (!options.Flag("no-warmup") && selected.Any(s => s is not ("submit" or "memory" or "cluster" or "workers")))
        {
            // JIT and tiered compilation of the in-process silo, so the first scenario is not penalised:
            // 20,000-task drains until one compiles under 1,000 methods or spends under 2 % of its
            // time compiling (at most 5: on a loaded machine the tier-up thread falls behind; a new
            // host always compiles a few hundred methods of its own), then a small DAG.
            var clock = Stopwatch.StartNew();
            var modes = MetricsRun.Modes(options);
            for (var round = 1; round <= 5; round++)
            {
                // Under --metrics both, the rounds alternate the modes, so neither pays for the other's JIT.
                var metrics = modes[(round - 1) % modes.Count];
                var warm = (await DrainScenario.DrainRoundsAsync(20_000, 1000, options, $"warm-up, {MetricsRun.Name(metrics)}", warm: false, metrics: metrics)).Cold;
                if (round >= Math.Max(2, modes.Count) && (warm.JitMethods < 1_000 || warm.JitMs < warm.Seconds * 1000 * 0.02))
                {
                    break;
                }
            }

            await HandoffScenario.MeasureAsync(5, 20, 2, 20, 1000, options, null);
            Console.WriteLine($"   (warm-up took {clock.Elapsed.TotalSeconds:F1} s)");
        }

        foreach (var scenario in selected)
        {
            Console.WriteLine();
            Console.WriteLine($"== {scenario} ==");
            var clock = Stopwatch.StartNew();
            try
            {
                await RunScenarioAsync(scenario, options, report);
            }
            catch (Exception ex)
            {
                failed = true;
                Console.WriteLine($"!! {scenario} failed: {ex}");
                report.Add(scenario, "error", double.NaN, "", note: ex.GetType().Name + ": " + ex.Message);
            }

            report.ScenarioSeconds[scenario] = clock.Elapsed.TotalSeconds;
            report.ScenarioLoad[scenario] = Report.LoadAverage();
            Console.WriteLine($"   ({scenario} took {clock.Elapsed.TotalSeconds:F1} s; load average {report.ScenarioLoad[scenario]})");
        }

        options.ThrowIfUnused();
        Console.WriteLine();
        report.PrintTable(Console.Out);
        var path = report.WriteJson();
        Console.WriteLine();
        Console.WriteLine($"JSON: {path}");
        return failed ? 1 : 0;
    }

    private static Task RunScenarioAsync(string scenario, Options options, Report report) => scenario switch
    {
        "drain" => DrainScenario.RunAsync(options, report),
        "submit" => SubmitScenario.RunAsync(options, report),
        "handoff" => HandoffScenario.RunAsync(options, report),
        "fidelity" => FidelityScenario.RunAsync(options, report),
        "dag" => DagScenario.RunAsync(options, report),
        "limit" => LimitScenario.RunAsync(options, report),
        "peer" => PeerScenario.RunAsync(options, report),
        "memory" => MemoryScenario.RunAsync(options, report),
        "cluster" => ClusterScenario.RunAsync(options, report),
        "workers" => WorkersScenario.RunAsync(options, report),
        _ => throw new ArgumentException(scenario),
    };

    private static void PrintUsage()
    {
        Console.WriteLine("""
            usage: dotnet run -c Release --project bench/Bench -- [scenario ...] [--flag value ...]
            scenarios: all (default) | drain | submit | handoff | fidelity | dag | limit | peer | memory | cluster | workers
            flags (defaults in brackets; `all` uses the smaller figure where two are given):
              drain     --drain-tasks [100000|30000] --drain-slots [1000] --drain-warm [true]
              submit    --submit-requests [30000|15000] --submit-clients [64] --submit-warmup [60000] --submit-run [true] --submit-slots [3]
              handoff   --handoff-chains [20] --handoff-length [50] --handoff-fans [10] --handoff-width [50] --handoff-slots [1000]
              fidelity  --fidelity-tasks [300] --fidelity-ms [100] --fidelity-slots [3]
              dag       --dag-tasks [100000] --dag-edges-per-task [3] --dag-slots [1000] --dag-http [true] --dag-run [true]
              limit     --limit-rows [200000] --limit-batch [1000] --limit-drain-tasks [20000] (used when drain did not run)
              peer      --peer-tasks [10000] --peer-threads [10] --peer-batch [10]
              memory    --memory-stored [1000000|200000] --memory-run [100000|20000] --memory-slots [1000] --memory-api [true]
              cluster   --cluster-tasks [20000|10000] --cluster-slots [1000] --cluster-silos [3]
                        --cluster-handoff-chains [20] --cluster-handoff-length [50] --cluster-handoff-fans [10] --cluster-handoff-width [50]
                        (PostgreSQL: needs ORLEANS_TEST_POSTGRES, else skipped; `. .ci/postgres.sh` sets it)
              workers   --workers-tasks [30000|10000] --workers-warmup [20000|5000] --workers-lease [64] --workers-slots [128] --workers-wake-samples [300|100]
                        (2 reference worker processes, src/Worker, built with the bench)
              any       --keep-db (keep temp databases)  --no-warmup  --help
                        --metrics [on] | off | both (drain, submit: the OpenTelemetry metrics, scraped every 10 s;
                        both = off, on, off, on and the ratios; --metrics-pairs [2] off/on pairs)
                        --profile (drains: the runtime's allocation samples by type and its collections, from its own events)
                        --orleans-dashboard [on] | off (Orleans' dashboard and its grain call profiler on the silos)
            """);
    }
}
