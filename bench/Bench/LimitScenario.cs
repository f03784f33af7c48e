using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace OrleansScheduler.Bench;

/// <summary>6. The hardware's limit: raw Microsoft.Data.Sqlite on this machine, prepared statements
/// batched in transactions, WAL, synchronous=NORMAL (the store's default); beside it the rows the
/// scheduler writes per task, and how close the drain comes to the ceiling that implies.</summary>
public static class LimitScenario
{
    /// <summary>Rows a no-op task's drain writes, from SqliteTaskStore.Attempts.cs: the claim turn
    /// updates the task, holds a slot and inserts an event; the completion turn updates the task,
    /// frees its slot and inserts an event. Status counters add 2 updates per commit (not per task).
    /// Submission writes 2 more (the task row and its first event).</summary>
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

            // The drain's shape: per task, update the task, update a slot, insert an event (x2 turns).
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
            report.Add("limit", "raw drain-shaped mix", mixedRate, "rows/s", note: "update task + update slot + insert event");
            report.Add("limit", "scheduler rows per task (drain)", DrainRowsPerTask, "rows",
                note: $"+{SubmitRowsPerTask} at submit; + 2 counter updates per commit");
            var implied = mixedRate / DrainRowsPerTask;
            report.Add("limit", "implied drain ceiling", implied, "tasks/s");

            var replay = ReplayOnSchema(rows / 4, batch);
            if (replay is { } r)
            {
                report.Add("limit", "replay of drain writes, real schema", r, "tasks/s", note: "the same rows, one prepared statement per row, same indexes, no scheduler logic");
            }

            if (!report.Shared.TryGetValue("drain_rate", out var drain))
            {
                var result = await DrainScenario.DrainAsync(drainTasks, 1000, 1000, 1000, options, "limit-drain");
                drain = result.TasksPerSecond;
            }

            report.Add("limit", "drain / implied ceiling", drain / implied, "ratio", note: $"drain {drain:N0} tasks/s");
            if (replay is { } r2)
            {
                report.Add("limit", "drain / schema replay", drain / r2, "ratio");
            }
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }

    /// <summary>The drain's row writes against the store's own schema (read from sql/sqlite), so the
    /// index maintenance is included: what the writes alone cost, one prepared statement per row,
    /// without turns, reads or handlers. (The store itself writes each group of rows with one
    /// set-oriented statement.)</summary>
    private static double? ReplayOnSchema(int tasks, int batch)
    {
        var directory = Path.Combine(Report.RepoRoot(), "sql", "sqlite");
        if (!Directory.Exists(directory))
        {
            return null;
        }

        var database = Rig.NewDatabase("replay");
        try
        {
            using var connection = Open(database);
            foreach (var file in Directory.GetFiles(directory, "*.sql").Order(StringComparer.Ordinal))
            {
                Execute(connection, File.ReadAllText(file));
            }

            using (var tx = connection.BeginTransaction())
            {
                for (var i = 1; i <= 1000; i++)
                {
                    Execute(connection, $"INSERT OR IGNORE INTO slots (slot_no) VALUES ({i})", tx);
                }

                var insert = Prepare(connection, """
                    INSERT INTO tasks (id, type, status, priority, duration_ms, max_attempts, pending_deps, created_at, queued_at)
                    VALUES ($id, 'bench', 'QUEUED', 5, 0, 1, 0, 0, 0)
                    """, "$id");
                insert.Transaction = tx;
                for (var i = 0; i < tasks; i++)
                {
                    insert.Parameters[0].Value = "t" + i;
                    insert.ExecuteNonQuery();
                }

                tx.Commit();
            }

            var start = Prepare(connection, "UPDATE tasks SET status = 'RUNNING', attempts = attempts + 1, worker_id = 'w', started_at = $now, version = version + 1 WHERE seq = $seq", "$now", "$seq");
            var hold = Prepare(connection, "UPDATE slots SET task = $seq, attempt = 1, silo = 'w', leased_at = $now, lease_expires_at = $now WHERE slot_no = $slot", "$seq", "$now", "$slot");
            var end = Prepare(connection, "UPDATE tasks SET status = 'COMPLETED', completed_at = $now, version = version + 1 WHERE seq = $seq", "$now", "$seq");
            var free = Prepare(connection, "UPDATE slots SET task = NULL, attempt = NULL, silo = NULL, leased_at = NULL, lease_expires_at = NULL WHERE slot_no = $slot", "$slot");
            var ev = Prepare(connection, "INSERT INTO task_events (task, at, from_status, to_status, silo, attempt, reason) VALUES ($seq, $now, 'QUEUED', 'RUNNING', 'w', 1, 'attempt 1 of 1 started')", "$seq", "$now");
            var clock = Stopwatch.StartNew();
            for (var from = 1; from <= tasks; from += batch)
            {
                var to = Math.Min(tasks, from + batch - 1);
                foreach (var phase in new[] { 0, 1 })
                {
                    using var tx = connection.BeginTransaction();
                    foreach (var c in new[] { start, hold, end, free, ev })
                    {
                        c.Transaction = tx;
                    }

                    for (var seq = from; seq <= to; seq++)
                    {
                        var slotNo = ((seq - from) % 1000) + 1;
                        if (phase == 0)
                        {
                            Run(start, 0, seq);
                            Run(hold, seq, 0, slotNo);
                        }
                        else
                        {
                            Run(end, 0, seq);
                            Run(free, slotNo);
                        }

                        Run(ev, seq, 0);
                    }

                    tx.Commit();
                }
            }

            return tasks / clock.Elapsed.TotalSeconds;
        }
        catch (SqliteException ex)
        {
            Console.WriteLine($"   replay on the real schema failed (schema changed?): {ex.Message}");
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
