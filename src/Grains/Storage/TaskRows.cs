using System.Data.Common;
using System.Text.Json;
using Orleans.Storage;
using OrleansScheduler.Grains.Tasks;

namespace OrleansScheduler.Grains.Storage;

/// <summary>A <see cref="TaskState"/> to and from its rows: the task row, its edges (written with
/// the dependent), its new events, and the counters its status moves. Shared by the grain storage
/// (one grain's write) and the whole-DAG submission (many new grains' first writes in one commit).</summary>
internal static class TaskRows
{
    /// <summary>Reads a task's state (ReadTask), or null when no row has that id.</summary>
    public static Task<(TaskState State, long Version)?> ReadAsync(SchedulerDatabase database, string id) =>
        database.ReadAsync(async session =>
        {
            await using var reader = await session.Command("ReadTask").Bind("@id", id).ExecuteReaderAsync().ConfigureAwait(false);
            return await reader.ReadAsync().ConfigureAwait(false) ? Read(reader) : ((TaskState, long)?)null;
        });

    private static (TaskState State, long Version) Read(DbDataReader reader)
    {

        var state = new TaskState
        {
            Seq = reader.GetInt64(0),
            Id = reader.GetString(1),
            Type = reader.GetString(2),
            Status = TaskStatusNames.Parse(reader.GetString(3)),
            Priority = reader.GetInt32(4),
            DurationMs = reader.GetInt64(5),
            Payload = reader.GetStringOrNull(6),
            RunAt = reader.GetTimeOrNull(7),
            TimeoutMs = reader.GetInt64OrNull(8),
            Attempts = reader.GetInt32(9),
            MaxAttempts = reader.GetInt32(10),
            WorkerId = reader.GetStringOrNull(11),
            AttemptSilo = reader.GetStringOrNull(12),
            GrantId = reader.GetInt64(13),
            CreatedAt = reader.GetTime(14),
            QueuedAt = reader.GetTimeOrNull(15),
            StartedAt = reader.GetTimeOrNull(16),
            CompletedAt = reader.GetTimeOrNull(17),
            DueAt = reader.GetTimeOrNull(18),
            DueKind = reader.GetStringOrNull(19),
            Result = reader.GetStringOrNull(20),
            Error = reader.GetStringOrNull(21),
            RetryBackoffMs = reader.GetInt64(22),
            RetryBackoffMaxMs = reader.GetInt64(23),
        };
        var version = reader.GetInt64(24);
        state.StoredStatus = state.Status;
        if (reader.GetStringOrNull(25) is { Length: > 2 } upstreams)
        {
            using var json = JsonDocument.Parse(upstreams);
            foreach (var edge in json.RootElement.EnumerateArray())
            {
                state.Dependencies.Add(new Dependency(edge[0].GetString()!, edge[1].GetInt64(), TaskStatusNames.Parse(edge[2].GetString()!),
                    edge[3].GetString(), edge[4].GetString() is { } cause ? TaskStatusNames.Parse(cause) : null));
            }
        }

        if (reader.GetStringOrNull(26) is { Length: > 2 } subscribers)
        {
            using var json = JsonDocument.Parse(subscribers);
            foreach (var subscriber in json.RootElement.EnumerateArray())
            {
                state.Subscribers.Add(subscriber.GetString()!);
            }
        }

        state.CauseId = reader.GetStringOrNull(27);
        state.CauseStatus = reader.GetStringOrNull(28) is { } causeStatus ? TaskStatusNames.Parse(causeStatus) : null;
        state.TraceParent = reader.GetStringOrNull(29);
        state.Queue = reader.GetStringOrNull(30);
        return (state, version);
    }

    /// <summary>Inserts a new task with its edges and events; null when the id already exists
    /// (nothing was written). Answers the task's seq.</summary>
    public static long? Insert(DbWrite write, TaskState state)
    {
        var seq = write.Command("InsertTask")
            .Bind("@id", state.Id)
            .Bind("@type", state.Type)
            .Bind("@status", state.Status.ToName())
            .Bind("@priority", state.Priority)
            .Bind("@duration_ms", state.DurationMs)
            .Bind("@payload", state.Payload)
            .Bind("@run_at", state.RunAt.ToMs())
            .Bind("@timeout_ms", state.TimeoutMs)
            .Bind("@max_attempts", state.MaxAttempts)
            .Bind("@pending_deps", state.PendingDependencies)
            .Bind("@created_at", state.CreatedAt.ToUnixTimeMilliseconds())
            .Bind("@queued_at", state.QueuedAt.ToMs())
            .Bind("@completed_at", state.CompletedAt.ToMs())
            .Bind("@error", state.Error)
            .Bind("@retry_backoff_ms", state.RetryBackoffMs)
            .Bind("@retry_backoff_max_ms", state.RetryBackoffMaxMs)
            .Bind("@due_at", state.DueAt.ToMs())
            .Bind("@due_kind", state.DueKind)
            .Bind("@cause_id", state.CauseId)
            .Bind("@cause_status", state.CauseStatus?.ToName())
            .Bind("@trace_parent", state.TraceParent)
            .Bind("@queue", state.Queue)
            .ExecuteScalar();
        if (seq is null or DBNull)
        {
            return null;
        }

        var taskSeq = Convert.ToInt64(seq, System.Globalization.CultureInfo.InvariantCulture);
        var edge = write.Command("InsertEdge");
        foreach (var dependency in state.Dependencies)
        {
            edge.Bind("@upstream", dependency.Seq).Bind("@downstream", taskSeq).ExecuteNonQuery();
        }

        AppendEvents(write, taskSeq, state);
        write.Move(null, state.Status);
        return taskSeq;
    }

    /// <summary>One grain's write: a new task is inserted, a known one updated if its row still has
    /// the version the grain read (the ETag), else <see cref="InconsistentStateException"/> and
    /// nothing is written. Answers the seq and the new version.</summary>
    public static (long Seq, long Version) Write(DbWrite write, TaskState state, long? version)
    {
        if (version is not { } expected)
        {
            return Insert(write, state) is { } inserted
                ? (inserted, 0)
                : throw new InconsistentStateException($"Task '{state.Id}' already exists: its first write found the row taken.", storedEtag: null, currentEtag: null);
        }

        var updated = write.Command("UpdateTask")
            .Bind("@status", state.Status.ToName())
            .Bind("@attempts", state.Attempts)
            .Bind("@worker_id", state.WorkerId)
            .Bind("@attempt_silo", state.AttemptSilo)
            .Bind("@grant_id", state.GrantId)
            .Bind("@pending_deps", state.PendingDependencies)
            .Bind("@queued_at", state.QueuedAt.ToMs())
            .Bind("@started_at", state.StartedAt.ToMs())
            .Bind("@completed_at", state.CompletedAt.ToMs())
            .Bind("@due_at", state.DueAt.ToMs())
            .Bind("@due_kind", state.DueKind)
            .Bind("@result", state.Result)
            .Bind("@error", state.Error)
            .Bind("@cause_id", state.CauseId)
            .Bind("@cause_status", state.CauseStatus?.ToName())
            .Bind("@queue", state.Queue)
            .Bind("@seq", state.Seq)
            .Bind("@version", expected)
            .ExecuteNonQuery();
        if (updated == 0)
        {
            throw new InconsistentStateException(
                $"Task '{state.Id}' was written by another activation since this one read it (version {expected} is stale).",
                expected.ToString(System.Globalization.CultureInfo.InvariantCulture), currentEtag: null);
        }

        AppendEvents(write, state.Seq, state);
        write.Move(state.StoredStatus, state.Status);
        if (state.Status == TaskStatus.Completed && state.StoredStatus != TaskStatus.Completed)
        {
            write.CountCompletion(state.CompletedAt ?? DateTimeOffset.UtcNow);
        }
        else if (state.Status == TaskStatus.Failed && state.StoredStatus != TaskStatus.Failed)
        {
            write.CountFailure(state.CompletedAt ?? DateTimeOffset.UtcNow);
        }

        return (state.Seq, expected + 1);
    }

    private static void AppendEvents(DbWrite write, long seq, TaskState state)
    {
        if (state.NewEvents.Count == 0)
        {
            return;
        }

        var insert = write.Command("InsertEvent");
        foreach (var e in state.NewEvents)
        {
            insert.Bind("@task", seq)
                .Bind("@at", e.At.ToUnixTimeMilliseconds())
                .Bind("@from_status", e.From?.ToName())
                .Bind("@to_status", e.To.ToName())
                .Bind("@silo", e.SiloId)
                .Bind("@attempt", e.Attempt)
                .Bind("@reason", e.Reason)
                .ExecuteNonQuery();
        }
    }
}
