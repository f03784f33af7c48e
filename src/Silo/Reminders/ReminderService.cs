using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Silo.Reminders;

/// <summary>Delivers durable reminders (run_at reached, retry backoff over) as turns. It sleeps
/// until the next due time the store reports, or until a commit adds a reminder, and never longer
/// than the poll interval. Due times live in the database, so whatever fell due while no silo was
/// running fires on the first pass after a start.</summary>
public sealed partial class ReminderService(
    ITaskStore store,
    StoreEvents events,
    TimeProvider timeProvider,
    IOptions<SiloOptions> options,
    ILogger<ReminderService> logger) : BackgroundService
{
    private const int BatchSize = 1000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var poll = options.Value.PollInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                var next = await store.FireRemindersAsync(BatchSize, stoppingToken).ConfigureAwait(false);
                var now = timeProvider.GetUtcNow();
                wait = next is { } due ? Clamp(due - now, poll) : poll;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LogFireFailed(logger, ex);
                wait = poll;
            }

            try
            {
                await events.RemindersChanged.WaitAsync(wait, timeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
        }
    }

    private static TimeSpan Clamp(TimeSpan wait, TimeSpan poll) =>
        wait <= TimeSpan.Zero ? TimeSpan.Zero : wait < poll ? wait : poll;

    [LoggerMessage(Level = LogLevel.Error, Message = "Delivering reminders failed; trying again after the poll interval")]
    private static partial void LogFireFailed(ILogger logger, Exception exception);
}
