using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace OrleansScheduler.Grains.Concurrency;

/// <summary>A silo's slot traffic to the ConcurrencyGrain, batched: at most one call is in flight,
/// and every release, start and wake-up that arrives meanwhile rides on the next. The singleton
/// handles one turn at a time, so this is what keeps it from being the bottleneck.</summary>
public sealed partial class SlotRequests(IGrainFactory grains, ILogger<SlotRequests> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);

    private readonly Lock _lock = new();
    private List<long> _released = [];
    private List<SlotStart> _started = [];
    private List<(SlotAsk Ask, TaskCompletionSource<SlotGrant?> Answer)> _asks = [];
    private bool _wake;
    private bool _workerWake;
    private bool _inFlight;

    /// <summary>Set once the silo's tasks have stopped (its executor has handed its attempts
    /// back): an update that fails from then on is not sent again, since the silo is going and the
    /// next start's recovery, or another silo's, redoes it. Without this a wake-up that failed while
    /// the runtime stopped was sent again every 200 ms for as long as the process lived.</summary>
    private volatile bool _stopped;

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);

        // Stops after the Active stage (the executor's hand-backs), before the runtime's services.
        lifecycle.Subscribe(nameof(SlotRequests), ServiceLifecycleStage.RuntimeGrainServices, _ => Task.CompletedTask, _ =>
        {
            _stopped = true;
            return Task.CompletedTask;
        });
    }

    /// <summary>The attempt of this grant ended, or the task refused the grant.</summary>
    public void Release(long grantId)
    {
        lock (_lock)
        {
            _released.Add(grantId);
        }

        Flush();
    }

    /// <summary>A task accepted its grant and runs this attempt on this silo.</summary>
    public void Started(long grantId, string siloId, int attempt)
    {
        lock (_lock)
        {
            _started.Add(new SlotStart(grantId, siloId, attempt));
        }

        Flush();
    }

    /// <summary>A task just released by its last dependency asks for a slot before it writes itself
    /// QUEUED; the answer is its grant, or null (no slot for it now: it queues as usual). Saves the
    /// QUEUED commit and the ready scan between a completion and its dependent's start.</summary>
    public Task<SlotGrant?> AskAsync(string taskId, int priority, long seq)
    {
        var answer = new TaskCompletionSource<SlotGrant?>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _asks.Add((new SlotAsk(taskId, priority, seq), answer));
        }

        Flush();
        return answer.Task;
    }

    /// <summary>A task became ready for a slot.</summary>
    public void Wake()
    {
        lock (_lock)
        {
            _wake = true;
        }

        Flush();
    }

    /// <summary>A task for external workers became ready: a worker waiting for one may take it.</summary>
    public void WakeWorkers()
    {
        lock (_lock)
        {
            _workerWake = true;
        }

        Flush();
    }

    private void Flush()
    {
        SlotUpdate update;
        List<(SlotAsk Ask, TaskCompletionSource<SlotGrant?> Answer)> asks;
        lock (_lock)
        {
            if (_inFlight || (_released.Count == 0 && _started.Count == 0 && _asks.Count == 0 && !_wake && !_workerWake))
            {
                return;
            }

            asks = _asks;
            update = new SlotUpdate(_released, _started, _wake, asks.Select(a => a.Ask).ToList()) { WorkerWake = _workerWake };
            (_released, _started, _asks, _wake, _workerWake, _inFlight) = ([], [], [], false, false, true);
        }

        // Off the calling grain's scheduler: the call belongs to the silo, not to the task that
        // happened to trigger it, and its answer must not wait for that task's next turn.
        // Nor does it belong to that task's trace: without the suppression, the request context
        // of whichever grain call first started a send would ride on every later one, and every
        // grant, and the log lines of every task granted, would carry that one request's trace.
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(() => SendAsync(update, asks));
        }
    }

    private async Task SendAsync(SlotUpdate update, List<(SlotAsk Ask, TaskCompletionSource<SlotGrant?> Answer)> asks)
    {
        try
        {
            var grants = await grains.GetGrain<IConcurrencyGrain>(0).UpdateAsync(update).ConfigureAwait(false);
            foreach (var (ask, answer) in asks)
            {
                answer.TrySetResult(grants.GetValueOrDefault(ask.TaskId));
            }
        }
        catch (Exception ex)
        {
            // An asking task that hears nothing queues as usual; if its grant was written before the
            // answer was lost, recovery sends it again and the task, QUEUED by then, takes it.
            foreach (var (_, answer) in asks)
            {
                answer.TrySetResult(null);
            }

            if (_stopped)
            {
                LogDroppedAtStop(logger, ex, update.Released.Count, update.Started.Count);
                return;
            }

            // The ConcurrencyGrain's silo died mid-call, or it timed out. Releases must not be lost
            // (a held slot that nobody gives back shrinks the cluster's limit until recovery), so
            // the update goes round again; every part of it is idempotent.
            LogUpdateFailed(logger, ex, update.Released.Count, update.Started.Count);
            await Task.Delay(RetryDelay).ConfigureAwait(false);
            lock (_lock)
            {
                _released.AddRange(update.Released);
                _started.AddRange(update.Started);
                _wake |= update.Wake;
                _workerWake |= update.WorkerWake;
            }
        }
        finally
        {
            lock (_lock)
            {
                _inFlight = false;
            }

            Flush();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Slot update to the ConcurrencyGrain failed while this silo stops ({Released} releases, {Started} starts); left to recovery")]
    private static partial void LogDroppedAtStop(ILogger logger, Exception exception, int released, int started);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Slot update to the ConcurrencyGrain failed ({Released} releases, {Started} starts); sending it again")]
    private static partial void LogUpdateFailed(ILogger logger, Exception exception, int released, int started);
}
