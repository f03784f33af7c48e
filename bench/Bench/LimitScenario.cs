using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Sqlite;

namespace OrleansScheduler.Bench;

/// <summary>6. The hardware's limit: raw Microsoft.Data.Sqlite on this machine, prepared statements
/// batched in transactions, WAL, synchronous=NORMAL (the database's default); beside it the rows the
/// scheduler writes per task, and how close the drain comes to the ceiling that implies.</summary>
public static class LimitScenario
{
    /// <summary>Rows a no-op task's drain writes on the Orleans design (src/Grains/Storage: TaskRows,
    /// ConcurrencyStateStorage, DbWrite; sql/sqlite/queries.sql): the ConcurrencyGrain writes the
    /// task's holder before its grant (UpsertHolder); the TaskGrain, activated by the grant (ReadTask,
    /// a read), writes RUNNING (UpdateTask + InsertEvent), then COMPLETED (UpdateTask + InsertEvent);
    /// the release deletes the holder (DeleteHolder; a slot granted again in the same turn is
    /// overwritten instead). Per group commit, not per task: the counters (AddToCount, AddCompletions)
    /// and the ConcurrencyGrain's version row (UpdateConcurrency), and the grant scan (ReadyTasks).
    /// Submission writes 2 more (InsertTask, InsertEvent).</summary>
    public const int DrainRowsPerTask = 6;

    public const int SubmitRowsPerTask = 2;

    public static async Task RunAsync(Options options, Report report)
    {
        var rows = options.Int("limit-rows", 200_000);
        var batch = options.Int("limit-batch", 1000);
        var drainTasks = options.Int("limit-drain-tasks", 20_000);

        var database = Rig.NewDatabase("limit");
        try
        {
            using var connection = Open(database);
            Execute(connection, """
                CREATE TABLE a (id INTEGER PRIMARY KEY, k TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL);
                CREATE TABLE e (id INTEGER PRIMARY KEY, task INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT);
                CREATE TABLE s (slot INTEGER PRIMARY KEY, task INTEGER, at INTEGER);
                """);
            using (var tx = connection.BeginTransaction())
            {
                for (var i = 1; i <= 1000; i++)
                {
                    Execute(connection, $"INSERT INTO s (slot) VALUES ({i})", tx);
                }

                tx.Commit();
            }

            // Inserts.
            var insert = Prepare(connection, "INSERT INTO a (id, k, status, n) VALUES ($id, $k, 'QUEUED', 0)", "$id", "$k");
            var insertRate = Timed(rows, batch, connection, (i, tx) =>
            {
                insert.Transaction = tx;
                insert.Parameters[0].Value = i + 1;
                insert.Parameters[1].Value = "t" + i;
                insert.ExecuteNonQuery();
            });

            // Updates by primary key.
            var update = Prepare(connection, "UPDATE a SET status = 'RUNNING', n = n + 1 WHERE id = $id", "$id");
            var updateRate = Timed(rows, batch, connection, (i, tx) =>
            {
                update.Transaction = tx;
                update.Parameters[0].Value = i + 1;
                update.ExecuteNonQuery();
            });

            // The drain's shape: per task, update the task, write a holder row, insert an event (x2).
            var slot = Prepare(connection, "UPDATE s SET task = $task, at = $at WHERE slot = $slot", "$task", "$at", "$slot");
            var ev = Prepare(connection, "INSERT INTO e (task, at, status, reason) VALUES ($task, $at, 'RUNNING', 'attempt 1 of 1 started')", "$task", "$at");
            var mixedRate = Timed(rows / 3 * 3, batch, connection, (i, tx) =>
            {
                var task = (i / 3) + 1;
                switch (i % 3)
                {
                    case 0:
                        update.Transaction = tx;
                        update.Parameters[0].Value = task;
                        update.ExecuteNonQuery();
                        break;
                    case 1:
                        slot.Transaction = tx;
                        slot.Parameters[0].Value = task;
                        slot.Parameters[1].Value = i;
                        slot.Parameters[2].Value = (task % 1000) + 1;
                        slot.ExecuteNonQuery();
                        break;
                    default:
                        ev.Transaction = tx;
                        ev.Parameters[0].Value = task;
                        ev.Parameters[1].Value = i;
                        ev.ExecuteNonQuery();
                        break;
                }
            });

            report.Add("limit", "raw insert", insertRate, "rows/s", note: $"{rows:N0} rows, {batch} per transaction, WAL, synchronous=NORMAL");
            report.Add("limit", "raw update by key", updateRate, "rows/s");
            report.Add("limit", "raw drain-shaped mix", mixedRate, "rows/s", note: "update task + write a holder row + insert event");
            report.Add("limit", "scheduler rows per task (drain)", DrainRowsPerTask, "rows",
                note: $"2 UpdateTask, 2 InsertEvent, UpsertHolder, DeleteHolder; + 1 ReadTask read; +{SubmitRowsPerTask} at submit; counters and the ConcurrencyGrain's version row per commit");
            var implied = mixedRate / DrainRowsPerTask;
            report.Add("limit", "implied drain ceiling", implied, "tasks/s");

            var replay = ReplayOnSchema(rows / 4, batch);
            if (replay is { } r)
            {
                report.Add("limit", "replay of drain rows, real schema", r.TasksPerSecond, "tasks/s",
                    note: $"sql/sqlite/queries.sql statements, one per row, {batch} tasks per commit, no scheduler logic; writes {r.WriteUs:F1} us + ReadTask {r.ReadUs:F1} us per task");
                report.Add("limit", "replay: writes only", 1e6 / r.WriteUs, "tasks/s", note: "the same without the activation read");
                report.Add("limit", "ReadTask as grain storage runs it", r.Reads.GrainStorageUs, "us", note: "TaskRows.ReadAsync: pooled connection opened, statement parsed and planned, per activation");
                report.Add("limit", "ReadTask prepared once", r.Reads.PreparedUs, "us", note: $"one open connection, warm page cache; {r.Reads.PreparedAfterCommitUs:F1} us with another connection's commit before each read (page cache emptied, as during a drain)");
            }

            if (!report.Shared.TryGetValue("drain_rate", out var drain))
            {
                var result = await DrainScenario.DrainAsync(drainTasks, 1000, options, "limit-drain");
                drain = result.TasksPerSecond;
            }

            report.Add("limit", "drain / implied ceiling", drain / implied, "ratio", note: $"drain {drain:N0} tasks/s");
            if (replay is { } r2)
            {
                report.Add("limit", "drain / schema replay", drain / r2.TasksPerSecond, "ratio", note: $"what the scheduler costs beyond its database work: {1e6 / drain - (1e6 / r2.TasksPerSecond):F1} us per task");
            }
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }

    private sealed record Replay(double TasksPerSecond, double WriteUs, double ReadUs, ReadCosts Reads);

    /// <summary>One activation's ReadTask, three ways, in us: as the grain storage runs it
    /// (TaskRows.ReadAsync: a pooled connection opened and a command prepared per read), prepared once
    /// on one open connection, and prepared once with a commit by another connection before each read
    /// (which empties the reader's page cache, as the writer's group commits do during a drain).</summary>
    private sealed record ReadCosts(double GrainStorageUs, double PreparedUs, double PreparedAfterCommitUs);

    /// <summary>The drain's database work on the real schema (the embedded migrations, applied as the
    /// silo applies them) with the silo's own statements (sql/sqlite/queries.sql via
    /// <see cref="SqlStatements"/>), one prepared statement per row, on one thread, without grains,
    /// messages or handlers: per batch of tasks, the grant (ReadyTasks, UpdateConcurrency,
    /// UpsertHolder each), the activations (ReadTask each, on a read connection as the grains do),
    /// RUNNING (UpdateTask + InsertEvent each, AddToCount), COMPLETED (UpdateTask + InsertEvent each,
    /// AddToCount, AddCompletions) and the release (UpdateConcurrency, DeleteHolder each), each
    /// write group one commit.</summary>
    private static Replay? ReplayOnSchema(int tasks, int batch)
    {
        var database = Rig.NewDatabase("replay");
        try
        {
            var sql = SqlStatements.Load("sqlite");
            using var connection = Open(database);
            SqliteMigrator.Apply(connection, NullLogger.Instance);
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            using (var tx = connection.BeginTransaction())
            {
                using var insert = Statement(connection, sql["InsertTask"], tx);
                for (var i = 0; i < tasks; i++)
                {
                    Bind(insert, ("@id", "t" + i), ("@type", Rig.BenchType), ("@status", "QUEUED"), ("@priority", TaskSpec.DefaultPriority),
                        ("@duration_ms", 0), ("@payload", null), ("@run_at", null), ("@timeout_ms", null), ("@max_attempts", 1), ("@pending_deps", 0),
                        ("@created_at", now), ("@queued_at", now), ("@completed_at", null), ("@error", null), ("@retry_backoff_ms", 1000),
                        ("@retry_backoff_max_ms", 300_000), ("@due_at", null), ("@due_kind", null), ("@cause_id", null), ("@cause_status", null), ("@trace_parent", null));
                    insert.ExecuteScalar();
                }

                Execute(connection, $"UPDATE status_counts SET count = {tasks} WHERE status = 'QUEUED'", tx);
                using var concurrency = Statement(connection, sql["InsertConcurrency"], tx);
                Bind(concurrency, ("@next_grant", 1));
                concurrency.ExecuteNonQuery();
                tx.Commit();
            }

            using var reads = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            reads.Open();
            using var ready = Statement(reads, sql["ReadyTasks"]);
            using var readTask = Statement(reads, sql["ReadTask"]);
            var commands = new[] { "UpdateConcurrency", "UpsertHolder", "DeleteHolder", "UpdateTask", "InsertEvent", "AddToCount", "AddCompletions" }
                .ToDictionary(n => n, n => Statement(connection, sql[n]), StringComparer.Ordinal);
            long version = 0;
            long grant = 1;
            var writeTicks = 0L;
            var readTicks = 0L;
            var clock = Stopwatch.StartNew();
            for (var from = 0; from < tasks; from += batch)
            {
                var count = Math.Min(batch, tasks - from);

                // The grant: the scan, then the holders and the version row in one commit.
                var start = Stopwatch.GetTimestamp();
                Bind(ready, ("@max", Math.Min(count, 1000)));
                var ids = new List<string>(count);
                using (var reader = ready.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        ids.Add(reader.GetString(0));
                    }
                }

                // ReadyTasks reads at most the free slots (1000); the rest of a bigger batch by id.
                for (var i = ids.Count; i < count; i++)
                {
                    ids.Add("t" + (from + i));
                }

                readTicks += Stopwatch.GetTimestamp() - start;
                start = Stopwatch.GetTimestamp();
                Write(connection, commands, tx =>
                {
                    Bind(commands["UpdateConcurrency"], ("@next_grant", grant + count), ("@version", version++)).ExecuteNonQuery();
                    for (var i = 0; i < count; i++)
                    {
                        Bind(commands["UpsertHolder"], ("@slot_no", (i % 1000) + 1), ("@task_id", ids[i]), ("@grant_id", grant + i), ("@granted_at", now)).ExecuteNonQuery();
                    }
                });
                writeTicks += Stopwatch.GetTimestamp() - start;

                // The activations: each task's whole state, read by id.
                start = Stopwatch.GetTimestamp();
                var seqs = new long[count];
                for (var i = 0; i < count; i++)
                {
                    Bind(readTask, ("@id", ids[i]));
                    using var reader = readTask.ExecuteReader();
                    reader.Read();
                    seqs[i] = reader.GetInt64(0);
                    for (var c = 1; c < reader.FieldCount; c++)
                    {
                        _ = reader.GetValue(c);
                    }
                }

                readTicks += Stopwatch.GetTimestamp() - start;
                start = Stopwatch.GetTimestamp();
                foreach (var (to, from2, taskVersion) in new[] { ("RUNNING", "QUEUED", 0L), ("COMPLETED", "RUNNING", 1L) })
                {
                    Write(connection, commands, tx =>
                    {
                        for (var i = 0; i < count; i++)
                        {
                            Bind(commands["UpdateTask"], ("@status", to), ("@attempts", 1), ("@worker_id", "bench-silo"),
                                ("@attempt_silo", to == "RUNNING" ? "S127.0.0.1:11111:1" : null), ("@grant_id", grant + i), ("@pending_deps", 0),
                                ("@queued_at", now), ("@started_at", now), ("@completed_at", to == "COMPLETED" ? now : null), ("@due_at", null),
                                ("@due_kind", null), ("@result", null), ("@error", null), ("@cause_id", null), ("@cause_status", null), ("@seq", seqs[i]), ("@version", taskVersion)).ExecuteNonQuery();
                            Bind(commands["InsertEvent"], ("@task", seqs[i]), ("@at", now), ("@from_status", from2), ("@to_status", to), ("@silo", "bench-silo"),
                                ("@attempt", 1), ("@reason", to == "RUNNING" ? "attempt 1 of 1 started" : "completed")).ExecuteNonQuery();
                        }

                        Bind(commands["AddToCount"], ("@status", from2), ("@delta", -count)).ExecuteNonQuery();
                        Bind(commands["AddToCount"], ("@status", to), ("@delta", count)).ExecuteNonQuery();
                        if (to == "COMPLETED")
                        {
                            Bind(commands["AddCompletions"], ("@second", now / 1000), ("@count", count)).ExecuteNonQuery();
                        }
                    });
                }

                // The release: the holders go, with the version row.
                Write(connection, commands, tx =>
                {
                    Bind(commands["UpdateConcurrency"], ("@next_grant", grant + count), ("@version", version++)).ExecuteNonQuery();
                    for (var i = 0; i < count; i++)
                    {
                        Bind(commands["DeleteHolder"], ("@slot_no", (i % 1000) + 1)).ExecuteNonQuery();
                    }
                });
                writeTicks += Stopwatch.GetTimestamp() - start;
                grant += count;
            }

            var seconds = clock.Elapsed.TotalSeconds;
            var completed = Convert.ToInt64(Scalar(connection, "SELECT count FROM status_counts WHERE status = 'COMPLETED'"), System.Globalization.CultureInfo.InvariantCulture);
            if (completed != tasks)
            {
                throw new InvalidOperationException($"replay: {completed:N0} of {tasks:N0} tasks COMPLETED (a fenced update missed: schema or statements changed?)");
            }

            foreach (var command in commands.Values)
            {
                command.Dispose();
            }

            var readCosts = MeasureReads(database, connection, sql, Math.Min(tasks, 5_000));
            return new Replay(tasks / seconds, writeTicks * 1e6 / Stopwatch.Frequency / tasks, readTicks * 1e6 / Stopwatch.Frequency / tasks, readCosts);
        }
        catch (Exception ex) when (ex is SqliteException or KeyNotFoundException)
        {
            Console.WriteLine($"   replay on the real schema failed (schema or statements changed?): {ex.Message}");
            return null;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            foreach (var suffix in new[] { "", "-wal", "-shm" })
            {
                File.Delete(database + suffix);
            }
        }
    }

    private static ReadCosts MeasureReads(string database, SqliteConnection writer, SqlStatements sql, int reads)
    {
        var ids = Enumerable.Range(0, reads).Select(i => "t" + i).ToList();
        var storage = new SqliteDatabase(new StorageOptions { DatabaseUrl = database }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
        var start = Stopwatch.GetTimestamp();
        foreach (var id in ids)
        {
            _ = TaskRows.ReadAsync(storage, id).GetAwaiter().GetResult() ?? throw new InvalidOperationException($"replay: task {id} not found");
        }

        var grainStorage = Rig.Ms(start, Stopwatch.GetTimestamp()) * 1000 / reads;
        using var reader = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        reader.Open();
        using var read = Statement(reader, sql["ReadTask"]);
        double Time(Action? between)
        {
            var ticks = 0L;
            foreach (var id in ids)
            {
                between?.Invoke();
                var t0 = Stopwatch.GetTimestamp();
                Bind(read, ("@id", id));
                using var rows = read.ExecuteReader();
                rows.Read();
                for (var c = 0; c < rows.FieldCount; c++)
                {
                    _ = rows.GetValue(c);
                }

                ticks += Stopwatch.GetTimestamp() - t0;
            }

            return ticks * 1e6 / Stopwatch.Frequency / reads;
        }

        Time(null); // prepares and warms the page cache
        var prepared = Time(null);
        using var touch = Statement(writer, "UPDATE status_counts SET count = count WHERE status = 'QUEUED'");
        var afterCommit = Time(() => touch.ExecuteNonQuery());
        return new ReadCosts(grainStorage, prepared, afterCommit);
    }

    /// <summary>One commit of <paramref name="body"/>'s writes, as the group-commit writer runs one batch.</summary>
    private static void Write(SqliteConnection connection, Dictionary<string, SqliteCommand> commands, Action<SqliteTransaction> body)
    {
        using var tx = connection.BeginTransaction(deferred: false);
        foreach (var command in commands.Values)
        {
            command.Transaction = tx;
        }

        body(tx);
        tx.Commit();
    }

    private static SqliteCommand Statement(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        return command;
    }

    /// <summary>Sets the parameters by name (added the first time); SQLite prepares the statement once.</summary>
    private static SqliteCommand Bind(SqliteCommand command, params (string Name, object? Value)[] values)
    {
        foreach (var (name, value) in values)
        {
            if (command.Parameters.Contains(name))
            {
                command.Parameters[name].Value = value ?? DBNull.Value;
            }
            else
            {
                command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }
        }

        return command;
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static void Run(SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }

        command.ExecuteNonQuery();
    }

    private static double Timed(int count, int batch, SqliteConnection connection, Action<int, SqliteTransaction> body)
    {
        var clock = Stopwatch.StartNew();
        for (var from = 0; from < count; from += batch)
        {
            using var tx = connection.BeginTransaction();
            for (var i = from; i < Math.Min(count, from + batch); i++)
            {
                body(i, tx);
            }

            tx.Commit();
        }

        return count / clock.Elapsed.TotalSeconds;
    }

    private static SqliteConnection Open(string database)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Pooling = false }.ToString());
        connection.Open();
        Execute(connection, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;");
        return connection;
    }

    private static SqliteCommand Prepare(SqliteConnection connection, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var p in parameters)
        {
            command.Parameters.Add(new SqliteParameter(p, 0));
        }

        command.Prepare();
        return command;
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        command.ExecuteNonQuery();
    }
}
