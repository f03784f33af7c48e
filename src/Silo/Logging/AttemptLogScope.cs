using System.Collections;

namespace OrleansScheduler.Silo.Logging;

/// <summary>The logging scope of one attempt on the executor: <c>TaskId</c>, <c>Attempt</c> and, when
/// the task was submitted with one, the <c>TraceId</c> of its request (what
/// <see cref="SchedulerJsonFormatter"/> writes as task_id, attempt and trace_id).</summary>
public sealed class AttemptLogScope(string taskId, int attempt, string? traceId) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public int Count => traceId is null ? 2 : 3;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("TaskId", taskId),
        1 => new("Attempt", attempt),
        2 when traceId is not null => new("TraceId", traceId),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>What .NET's "simple" and "json" formatters print for the scope.</summary>
    public override string ToString() => traceId is null ? $"task {taskId} attempt {attempt}" : $"task {taskId} attempt {attempt} trace {traceId}";
}
