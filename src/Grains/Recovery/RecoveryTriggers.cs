using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains.Recovery;

/// <summary>The fast paths of recovery, on every silo: when the silo becomes active (the one
/// process was restarted after a kill -9), when membership declares another silo dead, and when the
/// database answers again after an outage, it asks the ConcurrencyGrain to send its holders their
/// grants again (a holder whose silo died, or whose report or grant was lost to the outage, records
/// its lost attempt) and the sweeper to wake what is due. Without them recovery would wait for a
/// reminder tick: a reminder of a dead silo fires at its next period on a survivor (a minute).</summary>
internal sealed partial class RecoveryTriggers(
    IGrainFactory grains,
    IClusterMembershipService membership,
    SchedulerDatabase database,
    ILogger<RecoveryTriggers> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>How often a silo that found the database out of reach asks whether it is back.</summary>
    private static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(1);
    private const int Tries = 10;

    private readonly CancellationTokenSource _stopping = new();

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(RecoveryTriggers), ServiceLifecycleStage.Active, OnStartAsync, OnStopAsync);
    }

    private Task OnStartAsync(CancellationToken cancellationToken)
    {
        database.WentUnavailable += OnDatabaseUnavailable;
        _ = Task.Run(() => RecoverAsync("this silo started"));
        _ = Task.Run(WatchAsync);
        return Task.CompletedTask;
    }

    private Task OnStopAsync(CancellationToken cancellationToken)
    {
        database.WentUnavailable -= OnDatabaseUnavailable;
        return _stopping.CancelAsync();
    }

    private void OnDatabaseUnavailable() => _ = Task.Run(AwaitDatabaseAsync);

    /// <summary>During an outage of the database, grants sent one-way to tasks that could not be
    /// activated, reports the executor gave up on and notifications are lost; once the database
    /// answers again, recovery brings them back at once rather than at the next reminder tick.</summary>
    private async Task AwaitDatabaseAsync()
    {
        LogDatabaseUnavailable(logger);
        try
        {
            while (true)
            {
                await Task.Delay(PingInterval, _stopping.Token).ConfigureAwait(false);
                try
                {
                    if (await database.PingAsync(_stopping.Token).ConfigureAwait(false))
                    {
                        break;
                    }
                }
                catch (Exception ex) when (!_stopping.IsCancellationRequested && ex is not OperationCanceledException)
                {
                    // Still out of reach.
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return;
        }

        database.ReportAvailable();
        await RecoverAsync("the database answers again after an outage").ConfigureAwait(false);
    }

    private async Task WatchAsync()
    {
        var dead = new HashSet<SiloAddress>();
        var first = true;
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(_stopping.Token).ConfigureAwait(false))
            {
                var newlyDead = snapshot.Members.Values
                    .Where(m => m.Status == SiloStatus.Dead && dead.Add(m.SiloAddress))
                    .Select(m => m.Name)
                    .ToList();

                // Silos dead before this one started are the start-up recovery's business.
                if (newlyDead.Count > 0 && !first)
                {
                    _ = Task.Run(() => RecoverAsync($"silo {string.Join(", ", newlyDead)} was declared dead"));
                }

                first = false;
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private async Task RecoverAsync(string why)
    {
        for (var attempt = 1; attempt <= Tries && !_stopping.IsCancellationRequested; attempt++)
        {
            try
            {
                LogRecovering(logger, why);
                await grains.GetGrain<IConcurrencyGrain>(0).RecoverAsync().ConfigureAwait(false);
                await grains.GetGrain<ISweeperGrain>(0).SweepAsync().ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (!_stopping.IsCancellationRequested)
            {
                LogRecoveryFailed(logger, ex, why, attempt);
                await Task.Delay(RetryDelay).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database is out of reach; recovery runs once it answers again")]
    private static partial void LogDatabaseUnavailable(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recovering interrupted work: {Why}")]
    private static partial void LogRecovering(ILogger logger, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery ({Why}) failed on try {Attempt}; trying again")]
    private static partial void LogRecoveryFailed(ILogger logger, Exception exception, string why, int attempt);
}
