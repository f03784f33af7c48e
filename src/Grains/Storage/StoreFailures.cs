namespace OrleansScheduler.Grains.Storage;

/// <summary>A failure to reach the database, as callers of the grains see it:
/// <see cref="StoreUnavailableException"/> instead of the driver's exception. NpgsqlException and
/// SqliteException have no Orleans codec, so a front end in another process received a
/// CodecNotFoundException and answered 500 where the API promises 503 with Retry-After (issue 9:
/// PostgreSQL restarted under load). Raised where a grain's call or activation meets the database:
/// the grain storage providers, the grains' activations, and every grain call
/// (<see cref="StoreUnavailableFilter"/>).</summary>
internal static class StoreFailures
{
    /// <summary>The exception in <paramref name="exception"/>'s chain that says the database is out of
    /// reach for now (and the database is told, so recovery runs once it is back), or null when it
    /// failed for another reason.</summary>
    public static Exception? Cause(SchedulerDatabase database, Exception? exception)
    {
        ArgumentNullException.ThrowIfNull(database);
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is StoreUnavailableException || database.IsTransient(e))
            {
                database.ReportUnavailable();
                return e;
            }
        }

        return null;
    }

    /// <summary>The exception to throw instead; the driver's own is not attached (it could not cross
    /// a grain call), only its message.</summary>
    public static StoreUnavailableException Unavailable(Exception cause) =>
        cause as StoreUnavailableException ?? new StoreUnavailableException($"The task database cannot be reached or is busy: {cause.Message}");

    /// <summary>Runs <paramref name="action"/>, turning a failure to reach the database into
    /// <see cref="StoreUnavailableException"/>.</summary>
    public static async Task GuardAsync(SchedulerDatabase database, Func<Task> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        try
        {
            await action().ConfigureAwait(true);
        }
        catch (Exception ex) when (Cause(database, ex) is { } cause)
        {
            throw Unavailable(cause);
        }
    }
}
