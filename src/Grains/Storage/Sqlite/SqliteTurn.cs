using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace OrleansScheduler.Grains.Storage.Sqlite;

/// <summary>What a turn sees: the writer's open transaction, its prepared commands, the turn's
/// clock reading, and the status counter deltas it makes.</summary>
internal sealed class SqliteTurn(SqliteConnection connection, Dictionary<string, SqliteCommand> commands)
{
    private readonly long[] _turnDeltas = new long[TaskStatusNames.All.Count];
    private readonly long[] _batchDeltas = new long[TaskStatusNames.All.Count];
    private long _turnCompletions;
    private long _batchCompletions;
    private long _prunedBefore;

    private readonly ArrayBufferWriter<byte> _jsonBuffer = new(64 * 1024);
    private Utf8JsonWriter? _json;

    public SqliteTransaction Transaction { get; set; } = null!;

    /// <summary>A writer for the JSON arrays that set-oriented statements read with json_each;
    /// <see cref="TakeJson"/> returns what was written and starts a new document.</summary>
    public Utf8JsonWriter Json => _json ??= new Utf8JsonWriter(_jsonBuffer);

    public string TakeJson()
    {
        var json = Json;
        json.Flush();
        var text = Encoding.UTF8.GetString(_jsonBuffer.WrittenSpan);
        _jsonBuffer.ResetWrittenCount();
        json.Reset(_jsonBuffer);
        return text;
    }

    public DateTimeOffset Now { get; set; }

    public long NowMs => Now.ToUnixTimeMilliseconds();

    /// <summary>Set when the batch's commit may have made work available.</summary>
    public bool WorkAvailable { get; set; }

    /// <summary>Set when the batch added reminders, so the reminder service looks again.</summary>
    public bool RemindersChanged { get; set; }

    private readonly List<string> _turnCancelled = [];

    /// <summary>RUNNING tasks this batch cancelled, whose handlers must be stopped after commit.</summary>
    public List<string> CancelledRunning { get; } = [];

    public void CancelRunning(string taskId) => _turnCancelled.Add(taskId);

    /// <summary>A command prepared once per writer connection and reused: SQLite keeps the compiled
    /// statement as long as the text is unchanged.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            commands[sql] = command;
        }

        command.Transaction = Transaction;
        return command;
    }

    public void Count(TaskStatus status, long delta) => _turnDeltas[(int)status] += delta;

    /// <summary>Attempts this turn ended COMPLETED, for the per-second completion counts.</summary>
    public void CountCompletions(long count) => _turnCompletions += count;

    public void Move(TaskStatus from, TaskStatus to)
    {
        _turnDeltas[(int)from]--;
        _turnDeltas[(int)to]++;
    }

    internal void KeepTurn()
    {
        _batchCompletions += _turnCompletions;
        _turnCompletions = 0;
        CancelledRunning.AddRange(_turnCancelled);
        _turnCancelled.Clear();
        for (var i = 0; i < _turnDeltas.Length; i++)
        {
            _batchDeltas[i] += _turnDeltas[i];
            _turnDeltas[i] = 0;
        }
    }

    internal void DropTurn()
    {
        _turnCompletions = 0;
        Array.Clear(_turnDeltas);
        _turnCancelled.Clear();
    }

    /// <summary>Writes the batch's counter deltas: one UPDATE per status that changed, and its
    /// completions into the current second's row (rows older than an hour go, once a second).</summary>
    internal void FlushDeltas()
    {
        if (_batchCompletions > 0)
        {
            var second = Now.ToUnixTimeSeconds();
            Command(SqliteSql.AddCompletions).Bind("$second", second).Bind("$count", _batchCompletions).ExecuteNonQuery();
            _batchCompletions = 0;
            if (second - 3600 > _prunedBefore)
            {
                _prunedBefore = second - 3600;
                Command(SqliteSql.PruneCompletions).Bind("$before", _prunedBefore).ExecuteNonQuery();
            }
        }

        for (var i = 0; i < _batchDeltas.Length; i++)
        {
            if (_batchDeltas[i] != 0)
            {
                Command(SqliteSql.AddToCount)
                    .Bind("$status", ((TaskStatus)i).ToName())
                    .Bind("$delta", _batchDeltas[i])
                    .ExecuteNonQuery();
                _batchDeltas[i] = 0;
            }
        }
    }

    internal void Reset()
    {
        Array.Clear(_batchDeltas);
        _batchCompletions = 0;
        _turnCompletions = 0;
        CancelledRunning.Clear();
        WorkAvailable = false;
        RemindersChanged = false;
    }
}
