using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Tasks;

namespace OrleansScheduler.Grains.Recovery;

/// <summary>Brings back the interrupted work the database knows of (a singleton, key 0). Its Orleans
/// reminder fires every <see cref="SchedulerOptions.RecoveryPeriod"/> on whichever silo holds it;
/// a silo's start and a silo's death (RecoveryTriggers) sweep at once. One reminder for the whole
/// cluster instead of one per task keeps reminders off the hot path (DESIGN.md section 5).</summary>
internal sealed partial class SweeperGrain(
    TaskReadModel reads,
    TimeProvider timeProvider,
    IOptions<SchedulerOptions> options,
    ILogger<SweeperGrain> logger) : Grain, ISweeperGrain, IRemindable
{
    public const string ReminderName = "sweep";

    /// <summary>Most tasks of each kind woken per sweep; the rest wait for the next one.</summary>
    private const int Batch = 10_000;

    public override Task OnActivateAsync(CancellationToken cancellationToken) =>
        StoreFailures.GuardAsync(reads.Database, () => this.RegisterOrUpdateReminder(ReminderName, options.Value.RecoveryPeriod, options.Value.RecoveryPeriod));

    public Task ReceiveReminder(string reminderName, TickStatus status) => SweepAsync();

    /// <summary>Wakes the tasks recovery is for; each decides from its own state what to do:
    /// SCHEDULED tasks due within the timer horizon (a due time that fell due while no silo held
    /// them, or whose timer died with its silo), WAITING tasks that a dependency's end should have
    /// moved on, and UPSTREAM_FAILED tasks whose failed dependencies were all retried.</summary>
    public async Task SweepAsync()
    {
        var due = await reads.DueScheduledAsync(timeProvider.GetUtcNow() + TaskGrain.TimerHorizon, Batch).ConfigureAwait(true);
        var waiting = await reads.StalledWaitingAsync(Batch).ConfigureAwait(true);
        var upstreamFailed = await reads.StalledUpstreamFailedAsync(Batch).ConfigureAwait(true);
        foreach (var id in due.Concat(waiting).Concat(upstreamFailed))
        {
            _ = GrainFactory.GetGrain<ITaskGrain>(id).WakeAsync();
        }

        if (due.Count + waiting.Count + upstreamFailed.Count > 0)
        {
            LogSwept(logger, due.Count, waiting.Count, upstreamFailed.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recovery sweep woke {Due} due, {Waiting} waiting and {UpstreamFailed} upstream-failed tasks")]
    private static partial void LogSwept(ILogger logger, int due, int waiting, int upstreamFailed);
}
