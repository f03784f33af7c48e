namespace OrleansScheduler.Bench;

/// <summary>The handoff DAG: chains and fan-out/fan-in, each dependent tagged with its kind.</summary>
public sealed record HandoffDag(List<TaskSpec> Specs, Dictionary<string, string> Kinds, int Chains, int Length, int Fans, int Width)
{
    public static HandoffDag Build(int chains, int length, int fans, int width)
    {
        var specs = new List<TaskSpec>();
        var kinds = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var c = 0; c < chains; c++)
        {
            for (var j = 0; j < length; j++)
            {
                specs.Add(Rig.Spec($"c{c}-{j}", dependencies: j == 0 ? [] : [$"c{c}-{j - 1}"]));
                kinds[$"c{c}-{j}"] = "chain";
            }
        }

        for (var f = 0; f < fans; f++)
        {
            specs.Add(Rig.Spec($"f{f}-root"));
            var wide = Enumerable.Range(0, width).Select(k => $"f{f}-w{k}").ToList();
            foreach (var w in wide)
            {
                specs.Add(Rig.Spec(w, dependencies: [$"f{f}-root"]));
                kinds[w] = "fan-out";
            }

            specs.Add(Rig.Spec($"f{f}-join", dependencies: wide));
            kinds[$"f{f}-join"] = "fan-in";
        }

        return new HandoffDag(specs, kinds, chains, length, fans, width);
    }

    public string Describe => $"{Chains} chains of {Length}, {Fans} fans of {Width}";

    /// <summary>Where a handoff's time goes, from the transitions' times in task_events (the grain's
    /// clock at each Move, in whole ms, so each stage is +-1 ms) and the handler's own timestamps:
    /// for every dependent, its last dependency's handler end -> that dependency's COMPLETED -> the
    /// dependent's QUEUED -> its RUNNING -> its handler start. Sorted values per stage.</summary>
    public List<(string Stage, string What, List<double> Values)> Stages(Recorder recorder, string database)
    {
        var at = new Dictionary<(string Id, string Status), long>();
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT t.id, e.to_status, max(e.at) FROM task_events e JOIN tasks t ON t.seq = e.task
                WHERE e.from_status IS NOT NULL AND e.to_status IN ('QUEUED', 'RUNNING', 'COMPLETED')
                GROUP BY t.id, e.to_status
                """;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                at[(reader.GetString(0), reader.GetString(1))] = reader.GetInt64(2);
            }
        }

        var stages = new List<(string, string, List<double>)>
        {
            ("1 report", "handler end -> upstream COMPLETED decided (executor's call, the upstream grain's turn)", []),
            ("2 release", "-> dependent QUEUED decided (COMPLETED commit, one-way notification, the dependent's activation and ReadTask)", []),
            ("3 grant", "-> dependent RUNNING decided (QUEUED commit, slot batcher, ConcurrencyGrain: ReadyTasks + holders commit, the grant)", []),
            ("4 start", "-> handler start (RUNNING commit, executor)", []),
        };
        foreach (var spec in Specs.Where(s => s.Dependencies.Count > 0))
        {
            var upstream = spec.Dependencies.MaxBy(d => recorder.Runs[d].End)!;
            if (!at.TryGetValue((upstream, "COMPLETED"), out var completed) || !at.TryGetValue((spec.Id, "QUEUED"), out var queued)
                || !at.TryGetValue((spec.Id, "RUNNING"), out var running))
            {
                continue;
            }

            stages[0].Item3.Add(completed - recorder.UnixMs(recorder.Runs[upstream].End));
            stages[1].Item3.Add(queued - completed);
            stages[2].Item3.Add(running - queued);
            stages[3].Item3.Add(recorder.UnixMs(recorder.Runs[spec.Id].Start) - running);
        }

        foreach (var stage in stages)
        {
            stage.Item3.Sort();
        }

        return stages;
    }

    /// <summary>Handoff of every dependent (its start - the end of its last dependency), sorted, and by kind.</summary>
    public (List<double> All, SortedDictionary<string, List<double>> ByKind) Analyse(Recorder recorder)
    {
        var all = new List<double>();
        var byKind = new SortedDictionary<string, List<double>>(StringComparer.Ordinal);
        foreach (var spec in Specs.Where(s => s.Dependencies.Count > 0))
        {
            var start = recorder.Runs[spec.Id].Start;
            var upstreamEnd = spec.Dependencies.Max(d => recorder.Runs[d].End);
            var handoff = Rig.Ms(upstreamEnd, start);
            all.Add(handoff);
            var kind = Kinds[spec.Id];
            (byKind.TryGetValue(kind, out var list) ? list : byKind[kind] = []).Add(handoff);
        }

        all.Sort();
        foreach (var list in byKind.Values)
        {
            list.Sort();
        }

        return (all, byKind);
    }
}

/// <summary>3. Chains and fan-out/fan-in of no-op tasks; for each dependent, the delay from the
/// handler end of its last dependency to its own handler start. On the Orleans design that is: the
/// executor's report to the upstream TaskGrain, its COMPLETED commit, the one-way notification to
/// the dependent (activated: its row read), its QUEUED commit, the silo's slot batcher's call to the
/// ConcurrencyGrain, the grant scan and the holders' commit, the one-way grant, the dependent's
/// RUNNING commit and the executor's start: three group commits and two reads.</summary>
public static class HandoffScenario
{
    public static async Task RunAsync(Options options, Report report)
    {
        var chains = options.Int("handoff-chains", 20, allowZero: true);
        var length = options.Int("handoff-length", 50);
        var fans = options.Int("handoff-fans", 10, allowZero: true);
        var width = options.Int("handoff-width", 50);
        var slots = options.Int("handoff-slots", 1000);
        await MeasureAsync(chains, length, fans, width, slots, options, report);
    }

    /// <summary>Runs the DAG; with a null report it only warms the JIT up.</summary>
    public static async Task MeasureAsync(int chains, int length, int fans, int width, int slots, Options options, Report? report)
    {
        var dag = HandoffDag.Build(chains, length, fans, width);
        var database = Rig.NewDatabase("handoff");
        try
        {
            var store = await Rig.StartStoreAsync(database, slots);
            try
            {
                await Rig.SubmitAsync(store, dag.Specs, chunk: dag.Specs.Count);
            }
            finally
            {
                await Rig.StopAsync(store);
            }

            var recorder = new Recorder();
            var silo = Rig.BuildSilo(database, slots, recorder);
            using var watcher = new DbWatcher(database);
            var cpu = new ThreadCpu();
            var pauseBefore = GC.GetTotalPauseDuration();
            int[] gcBefore = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
            await silo.StartAsync();
            long done;
            try
            {
                done = await watcher.WaitForTerminalAsync(dag.Specs.Count, TimeSpan.FromMinutes(10), label: "handoff");
            }
            finally
            {
                await Rig.StopAsync(silo);
            }

            var (cores, top) = cpu.Finish();
            var pauseMs = (GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds;
            var gcs = $"gen0 {GC.CollectionCount(0) - gcBefore[0]}, gen1 {GC.CollectionCount(1) - gcBefore[1]}, gen2 {GC.CollectionCount(2) - gcBefore[2]}";
            var (all, byKind) = dag.Analyse(recorder);
            if (report is null)
            {
                return;
            }

            var stages = dag.Stages(recorder, database);

            var longestChain = Rig.Ms(recorder.FirstStart, done);
            report.Add("handoff", "tasks / dependents", dag.Specs.Count, "tasks", note: $"{dag.Describe}; {all.Count} dependents; slots {slots}; load average after {Report.LoadAverage()}");
            report.Below("handoff", "handoff p50", Stats.Percentile(all, 50), "ms", 3);
            report.Below("handoff", "handoff p99", Stats.Percentile(all, 99), "ms", 30);
            report.Add("handoff", "handoff max", all[^1], "ms");
            foreach (var (kind, list) in byKind)
            {
                report.Add("handoff", $"{kind} p50 / p99", Stats.Percentile(list, 50), "ms", note: $"p99 {Stats.Percentile(list, 99):F2} ms, n={list.Count}");
            }

            foreach (var (stage, what, values) in stages)
            {
                report.Add("handoff", $"stage {stage} p50", Stats.Percentile(values, 50), "ms", note: $"p99 {Stats.Percentile(values, 99):F2} ms; {what}");
            }

            report.Add("handoff", "makespan (chain of " + length + ")", longestChain, "ms", note: $"{longestChain / length:F2} ms per link incl. run");
            report.Add("handoff", "CPU busy", cores, "cores", note: top);
            report.Add("handoff", "GC pauses during the run", pauseMs, "ms", note: gcs);
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }
}
