using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace OrleansScheduler.Grains.Workers;

/// <summary>Keeps this silo's <see cref="TaskRouting"/> in step with the workers' claims: once a
/// second it asks the WorkerDirectoryGrain whether they changed (a grain call, no database read).</summary>
internal sealed partial class WorkerClaimsRefresher(IGrainFactory grains, TaskRouting routing, ILogger<WorkerClaimsRefresher> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(WorkerClaimsRefresher), ServiceLifecycleStage.Active, Start, Stop);

    private Task Start(CancellationToken cancellationToken)
    {
        _loop = Task.Run(LoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task Stop(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(Period);
        do
        {
            try
            {
                routing.Apply(await grains.GetGrain<IWorkerDirectoryGrain>(0).GetClaimsAsync(routing.Version).ConfigureAwait(false));
            }
            catch (Exception ex)
            {
                if (!_stopping.IsCancellationRequested)
                {
                    LogRefreshFailed(logger, ex);
                }
            }
        }
        while (await WaitAsync(timer).ConfigureAwait(false));
    }

    private async Task<bool> WaitAsync(PeriodicTimer timer)
    {
        try
        {
            return await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not read the workers' claims from the WorkerDirectoryGrain; trying again in a second")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
