using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains.History;

/// <summary>Samples the queue depth by status into queue_depth_samples every
/// <see cref="HistoryOptions.SampleInterval"/>, for the dashboard's queue-depth chart, and prunes
/// samples older than <see cref="HistoryOptions.Retention"/>. Each silo runs one; the sample of a
/// second is written once (the first silo's wins). It reads the maintained counters, never the
/// tasks, and rides the silo's group commit, so it costs one small statement per interval.</summary>
internal sealed partial class QueueDepthSampler(
    SchedulerDatabase database,
    IOptions<HistoryOptions> options,
    TimeProvider timeProvider,
    ILogger<QueueDepthSampler> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.SampleInterval;
        using var timer = new PeriodicTimer(interval, timeProvider);
        do
        {
            try
            {
                await SampleAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A sample missed (the database is out of reach, the writer is closing) is a gap in
                // a chart, not a reason to stop sampling.
                LogSampleFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>Writes one sample of the current counters, stamped with the current second.</summary>
    public Task SampleAsync()
    {
        var now = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        var before = now - (long)HistoryOptions.Retention.TotalSeconds;
        return database.WriteAsync(write =>
        {
            write.Command("SampleQueueDepth").Bind("@second", now).ExecuteNonQuery();
            write.Command("PruneQueueDepth").Bind("@before", before).ExecuteNonQuery();
            return true;
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A queue-depth sample for the dashboard's history was not written")]
    private static partial void LogSampleFailed(ILogger logger, Exception exception);
}
