namespace OrleansScheduler;

/// <summary>The request clashes with the task's current state (409): the id exists, or the task is
/// in a status that does not allow the operation. Crosses grain calls, so Orleans serializes it.</summary>
[GenerateSerializer]
public sealed class TaskConflictException(string taskId, string message) : Exception(message)
{
    [Id(0)]
    public string TaskId { get; } = taskId;
}
