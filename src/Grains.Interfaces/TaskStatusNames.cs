using System.Diagnostics.CodeAnalysis;

namespace OrleansScheduler;

/// <summary>The wire and database names of <see cref="TaskStatus"/>: "QUEUED", "UPSTREAM_FAILED".</summary>
public static class TaskStatusNames
{
    private static readonly string[] Names =
        ["WAITING", "SCHEDULED", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "UPSTREAM_FAILED"];

    public static IReadOnlyList<string> All => Names;

    public static string ToName(this TaskStatus status) => Names[(int)status];

    public static TaskStatus Parse(string name) =>
        TryParse(name, out var status)
            ? status
            : throw new ArgumentOutOfRangeException(nameof(name), name, "Not a task status.");

    /// <summary>Case-insensitive, so "queued" from a query string is accepted.</summary>
    public static bool TryParse([NotNullWhen(true)] string? name, out TaskStatus status)
    {
        for (var i = 0; i < Names.Length; i++)
        {
            if (string.Equals(Names[i], name, StringComparison.OrdinalIgnoreCase))
            {
                status = (TaskStatus)i;
                return true;
            }
        }

        status = default;
        return false;
    }

    public static bool IsTerminal(this TaskStatus status) =>
        status is TaskStatus.Completed or TaskStatus.Failed or TaskStatus.Cancelled or TaskStatus.UpstreamFailed;
}
