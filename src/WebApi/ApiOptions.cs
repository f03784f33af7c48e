namespace OrleansScheduler.WebApi;

/// <summary>The HTTP front end's settings, bound from the "Api" section.</summary>
public sealed class ApiOptions
{
    public const string SectionName = "Api";
    public const int DefaultPort = 8000;

    /// <summary>max_attempts of a task that does not say.</summary>
    public int DefaultMaxAttempts { get; set; } = TaskSpec.DefaultMaxAttempts;

    /// <summary>Largest body of a single-task request (413 past it).</summary>
    public long MaxTaskBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest body of a batch request; sized for 100,000 tasks with 300,000 edges.</summary>
    public long MaxBatchBodyBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Most tasks in one batch.</summary>
    public int MaxBatchTasks { get; set; } = 200_000;
}
