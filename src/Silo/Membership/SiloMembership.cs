using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Silo.Membership;

/// <summary>Registers this silo, heartbeats while it lives (each heartbeat renews the leases of its
/// attempts and stops those it lost), and marks it stopped on a graceful stop.</summary>
public sealed partial class SiloMembership(
    ITaskStore store,
    Executor executor,
    SiloIdentity silo,
    TimeProvider timeProvider,
    IOptions<SiloOptions> options,
    ILogger<SiloMembership> logger) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.RegisterSiloAsync(
            new SiloView(silo.Id, Environment.MachineName, silo.StartedAt, silo.StartedAt, "ACTIVE", options.Value.Capacity, 0),
            cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.HeartbeatInterval, timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    var before = executor.Snapshot();
                    var held = await store.HeartbeatAsync(silo.Id, before, stoppingToken).ConfigureAwait(false);
                    executor.StopLost(before, held);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogHeartbeatFailed(logger, ex, silo.Id);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await store.MarkSiloStoppedAsync(silo.Id, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException or OperationCanceledException)
        {
            // The store is already closed (a host stopped twice) or unreachable: the silo is listed
            // DEAD once its heartbeat is old enough, which says the same, only later.
            LogStopNotRecorded(logger, ex, silo.Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record that silo {SiloId} stopped")]
    private static partial void LogStopNotRecorded(ILogger logger, Exception exception, string siloId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat of silo {SiloId} failed")]
    private static partial void LogHeartbeatFailed(ILogger logger, Exception exception, string siloId);
}
