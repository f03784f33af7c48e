using System.Collections.Specialized;
using System.Data.Common;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Quartz;
using Quartz.Impl;
using Quartz.Impl.AdoJobStore.Common;
using Quartz.Util;

namespace OrleansScheduler.Bench;

/// <summary>7. The peer: Quartz.NET 4 with its ADO.NET job store on SQLite (same file system, WAL,
/// synchronous=NORMAL), creating its own schema, running the same number of no-op jobs as our
/// drain; the ratio is printed.</summary>
public static class PeerScenario
{
    public static async Task RunAsync(Options options, Report report)
    {
        var jobs = options.Int("peer-tasks", 10_000);
        var threads = options.Int("peer-threads", 10);
        var batch = options.Int("peer-batch", 10);

        var ours = await DrainScenario.DrainAsync(jobs, 1000, options, "peer-ours");
        await RunQuartzAsync(Math.Min(jobs, 2_000), threads, batch, options); // Quartz's own warm-up (JIT)
        var quartz = await RunQuartzAsync(jobs, threads, batch, options);
        report.Add("peer", "jobs", jobs, "jobs", note: $"Quartz {typeof(IScheduler).Assembly.GetName().Version}, JobStoreTX + SQLiteDelegate, {threads} threads, acquire batch {batch}");
        report.Add("peer", "OrleansScheduler drain", ours.TasksPerSecond, "tasks/s");
        report.Add("peer", "Quartz.NET no-op jobs", quartz.Rate, "jobs/s", note: $"scheduling {quartz.ScheduleSeconds:F1} s; CPU {quartz.Cores:F2} cores");
        report.AtLeast("peer", "ours / Quartz", ours.TasksPerSecond / quartz.Rate, "x", 10);
    }

    private sealed record QuartzRun(double Rate, double ScheduleSeconds, double Cores);

    private static async Task<QuartzRun> RunQuartzAsync(int jobs, int threads, int batch, Options options)
    {
        var database = Rig.NewDatabase("quartz");
        try
        {
            using (var connection = new SqliteConnection($"Data Source={database};Pooling=False"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA journal_mode = WAL;";
                command.ExecuteNonQuery();
            }

            NormalSyncSqliteProvider.NextConnectionString = $"Data Source={database};Pooling=True;Default Timeout=30";
            var name = "bench" + Guid.NewGuid().ToString("N")[..8];
            var properties = new NameValueCollection
            {
                ["quartz.scheduler.instanceName"] = name,
                ["quartz.scheduler.instanceId"] = "bench-1",
                ["quartz.threadPool.maxConcurrency"] = threads.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["quartz.scheduler.batchTriggerAcquisitionMaxCount"] = batch.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["quartz.jobStore.type"] = "Quartz.Impl.AdoJobStore.JobStoreTX, Quartz",
                ["quartz.jobStore.driverDelegateType"] = "Quartz.Impl.AdoJobStore.SQLiteDelegate, Quartz",
                ["quartz.jobStore.dataSource"] = name,
                [$"quartz.dataSource.{name}.connectionProvider.type"] = typeof(NormalSyncSqliteProvider).AssemblyQualifiedName,
                ["quartz.jobStore.tablePrefix"] = "QRTZ_",
                ["quartz.jobStore.useProperties"] = "true",
                ["quartz.jobStore.schemaProvisioning"] = "CreateIfMissing",
                ["quartz.serializer.type"] = typeof(SystemTextJsonObjectSerializer).AssemblyQualifiedName,
            };
            await using var factory = QuartzSchedulerBuilder.Create(_ => { }).UseProperties(properties).Build();
            var scheduler = await factory.GetScheduler();
            try
            {
                NoopJob.Reset(jobs);
                var clock = Stopwatch.StartNew();
                var all = new Dictionary<IJobDetail, IReadOnlyCollection<ITrigger>>();
                for (var i = 0; i < jobs; i++)
                {
                    var job = JobBuilder.Create<NoopJob>().WithIdentity($"j{i}", "bench").Build();
                    var trigger = TriggerBuilder.Create().WithIdentity($"t{i}", "bench").StartNow().Build();
                    all[job] = [trigger];
                }

                await scheduler.ScheduleJobs(all, new ScheduleJobOptions());
                var scheduleSeconds = clock.Elapsed.TotalSeconds;
                var cpu = new ThreadCpu();
                await scheduler.Start();
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(20));
                await NoopJob.AllDone.Task.WaitAsync(timeout.Token);
                var (cores, top) = cpu.Finish();
                var seconds = Rig.Ms(NoopJob.FirstStart, NoopJob.LastEnd) / 1000.0;
                Console.WriteLine($"   quartz: {jobs:N0} jobs in {seconds:F2} s = {jobs / seconds:N0}/s; CPU {cores:F2} cores: {top}");
                return new QuartzRun(jobs / seconds, scheduleSeconds, cores);
            }
            finally
            {
                await scheduler.Shutdown(waitForJobsToComplete: false);
            }
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }
}

/// <summary>A no-op job that counts runs.</summary>
public sealed class NoopJob : IJob
{
    private static int _remaining;
    private static long _firstStart;

    public static TaskCompletionSource AllDone { get; private set; } = new();

    public static long FirstStart => Interlocked.Read(ref _firstStart);

    public static long LastEnd { get; private set; }

    public static void Reset(int jobs)
    {
        _remaining = jobs;
        _firstStart = 0;
        AllDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        Interlocked.CompareExchange(ref _firstStart, Stopwatch.GetTimestamp(), 0);
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            LastEnd = Stopwatch.GetTimestamp();
            AllDone.TrySetResult();
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>Microsoft.Data.Sqlite for Quartz, with each connection set to synchronous=NORMAL like our
/// store. Quartz builds it from its type, so the run's connection string is handed over statically.</summary>
public sealed class NormalSyncSqliteProvider : IDbProvider
{
    private readonly DbProvider _inner = new("SQLite-Microsoft", NextConnectionString);

    public static string NextConnectionString { get; set; } = "";

    public string ConnectionString => _inner.ConnectionString;

    public DbMetadata Metadata => _inner.Metadata;

    public DbCommand CreateCommand() => _inner.CreateCommand();

    public DbConnection CreateConnection() => new NormalSyncConnection(ConnectionString);

    public void Shutdown() => _inner.Shutdown();

    private sealed class NormalSyncConnection(string connectionString) : SqliteConnection(connectionString)
    {
        public override void Open()
        {
            base.Open();
            using var command = CreateCommand();
            command.CommandText = "PRAGMA synchronous = NORMAL";
            command.ExecuteNonQuery();
        }

        public override Task OpenAsync(CancellationToken cancellationToken)
        {
            Open();
            return Task.CompletedTask;
        }
    }
}
