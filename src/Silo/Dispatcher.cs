using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Silo;

/// <summary>Claims ready tasks with free slots, many per turn, and hands them to the executor. It
/// wakes on events (a task became ready, a slot was freed) and polls only as a fallback.</summary>
public sealed partial class Dispatcher(
    IGrainFactory grains,
    Executor executor,
    WorkSignal signal,
    SiloIdentity silo,
    TimeProvider timeProvider,
    IOptions<SiloOptions> options,
    ILogger<Dispatcher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var concurrency = grains.GetConcurrencyGrain();
        LogStarted(logger, silo.Id, settings.Capacity);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var reserved = executor.TryReserve(settings.ClaimBatchSize);
                if (reserved > 0)
                {
                    IReadOnlyList<AttemptLease> leases;
                    try
                    {
                        leases = await concurrency.ClaimAsync(silo.Id, reserved, stoppingToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        executor.Release(reserved);
                        throw;
                    }

                    foreach (var lease in leases)
                    {
                        executor.Start(lease);
                    }

                    executor.Release(reserved - leases.Count);
                    if (leases.Count == reserved)
                    {
                        continue; // A full batch: there may be more ready tasks and free slots.
                    }
                }

                await signal.WaitAsync(settings.PollInterval, timeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // The database hiccuped; back off a poll interval and try again rather than die.
                LogClaimFailed(logger, ex);
                await Task.Delay(settings.PollInterval, timeProvider, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await executor.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {SiloId} dispatching (capacity {Capacity})")]
    private static partial void LogStarted(ILogger logger, string siloId, int capacity);

    [LoggerMessage(Level = LogLevel.Error, Message = "Claiming tasks failed; retrying after the poll interval")]
    private static partial void LogClaimFailed(ILogger logger, Exception exception);
}
