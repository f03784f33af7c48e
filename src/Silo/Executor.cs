using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Silo.Handlers;

namespace OrleansScheduler.Silo;

/// <summary>Runs claimed attempts on the thread pool. Finished attempts are reported in groups:
/// one turn records every outcome that finished meanwhile and hands the freed slots straight to
/// the next ready tasks, so completions are committed together and a released dependent starts
/// without waiting for the dispatcher.</summary>
public sealed partial class Executor
{
    private const int MaxReportBatch = 512;
    private const int ReportsInFlight = 2;

    private readonly ConcurrentDictionary<string, Running> _running = new(StringComparer.Ordinal);
    private readonly Channel<Running> _finished = Channel.CreateUnbounded<Running>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly IGrainFactory _grains;
    private readonly TaskHandlerRegistry _handlers;
    private readonly WorkSignal _signal;
    private readonly SiloIdentity _silo;
    private readonly TimeProvider _timeProvider;
    private readonly SiloOptions _options;
    private readonly ILogger<Executor> _logger;
    private readonly Task _reporter;
    private volatile bool _draining;

    /// <summary>Attempts running or being reported, plus capacity reserved for claims under way.</summary>
    private int _used;

    public Executor(
        IGrainFactory grains,
        TaskHandlerRegistry handlers,
        WorkSignal signal,
        StoreEvents events,
        SiloIdentity silo,
        TimeProvider timeProvider,
        IOptions<SiloOptions> options,
        ILogger<Executor> logger)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(options);
        _grains = grains;
        _handlers = handlers;
        _signal = signal;
        _silo = silo;
        _timeProvider = timeProvider;
        _options = options.Value;
        _logger = logger;
        events.RunningTaskCancelled += OnCancelled;
        _reporter = Task.Run(ReportLoopAsync);
    }

    /// <summary>Reserves up to <paramref name="want"/> units of this silo's capacity for a claim;
    /// answers how many it got. What the claim does not use goes back with <see cref="Release"/>.</summary>
    public int TryReserve(int want)
    {
        while (true)
        {
            var used = Volatile.Read(ref _used);
            var grant = Math.Min(want, _options.Capacity - used);
            if (grant <= 0 || _draining)
            {
                return 0;
            }

            if (Interlocked.CompareExchange(ref _used, used + grant, used) == used)
            {
                return grant;
            }
        }
    }

    /// <summary>Gives back reserved capacity a claim did not use. It wakes nobody: a claim that
    /// found less work than it asked for means there is none now, and waking the dispatcher for it
    /// made an idle silo claim in a loop.</summary>
    public void Release(int units)
    {
        if (units > 0)
        {
            Interlocked.Add(ref _used, -units);
        }
    }

    /// <summary>Starts a claimed attempt on a unit of capacity reserved for it.</summary>
    public void Start(AttemptLease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var running = new Running(lease, CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token));
        _running[lease.TaskId] = running;
        _ = Task.Run(() => RunAsync(running));
    }

    /// <summary>The attempts running now, as (task, attempt).</summary>
    public IReadOnlyList<HeldAttempt> Snapshot() =>
        _running.Values.Select(r => new HeldAttempt(r.Lease.TaskId, r.Lease.Attempt)).ToList();

    /// <summary>Stops the attempts of <paramref name="before"/> that the store no longer counts as
    /// held: their lease expired and was reclaimed, so another silo may be running them now.</summary>
    public void StopLost(IReadOnlyList<HeldAttempt> before, IReadOnlyList<HeldAttempt> held)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(held);
        var stillHeld = held.ToHashSet();
        foreach (var attempt in before)
        {
            if (!stillHeld.Contains(attempt) && _running.TryGetValue(attempt.TaskId, out var running) && running.Lease.Attempt == attempt.Attempt)
            {
                LogLeaseLost(_logger, attempt.TaskId, attempt.Attempt);
                Stop(running);
            }
        }
    }

    /// <summary>Graceful stop: no more claims; attempts get the grace period to finish and be
    /// reported; the rest are cancelled and handed back so another silo (or this one, restarted)
    /// runs them without counting an attempt.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        try
        {
            await Task.WhenAll(_running.Values.Select(r => r.Done.Task))
                .WaitAsync(_options.ShutdownGracePeriod, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            LogHandingBack(_logger, _running.Count);
            await _stopping.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_running.Values.Select(r => r.Done.Task)).ConfigureAwait(false);
        }

        _finished.Writer.TryComplete();
        await _reporter.ConfigureAwait(false);
    }

    /// <summary>A user cancelled a RUNNING task: the store already ended it CANCELLED and freed its
    /// slot, so the handler is stopped and nothing is reported.</summary>
    private void OnCancelled(string taskId)
    {
        if (_running.TryGetValue(taskId, out var running))
        {
            Stop(running);
        }
    }

    /// <summary>Cancels an attempt that is no longer this silo's to finish; nothing is reported.
    /// Called after a commit on the store's writer, so the handler's cancellation callbacks run on
    /// the thread pool, not here.</summary>
    private static void Stop(Running running)
    {
        running.Abandoned = true;
        try
        {
            _ = running.Cancellation.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The attempt finished in the meantime.
        }
    }

    private async Task RunAsync(Running running)
    {
        var lease = running.Lease;
        try
        {
            var result = await ExecuteAsync(lease, running.Cancellation.Token).ConfigureAwait(false);
            running.Outcome = AttemptOutcome.Success(lease, result);
        }
        catch (Exception) when (running.Abandoned)
        {
            LogAbandoned(_logger, lease.TaskId, lease.Attempt);
            Finish(running, units: 1);
            return;
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            await HandBackAsync(running).ConfigureAwait(false);
            return;
        }
        catch (Exception ex)
        {
            running.Outcome = AttemptOutcome.Failure(lease, ex.Message);
        }

        if (running.Abandoned)
        {
            LogAbandoned(_logger, lease.TaskId, lease.Attempt);
            Finish(running, units: 1);
            return;
        }

        _finished.Writer.TryWrite(running);
    }

    private async Task HandBackAsync(Running running)
    {
        var lease = running.Lease;
        try
        {
            await _grains.GetTaskGrain(lease.TaskId)
                .HandBackAsync(lease, $"silo {_silo.Id} stopped before attempt {lease.Attempt} finished; handed back", CancellationToken.None)
                .ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogReportFailed(_logger, ex, lease.TaskId, lease.Attempt);
        }
        finally
        {
            Finish(running, units: 1);
        }
    }

    /// <summary>Reports what finished in groups, reusing the freed capacity for the claims made in
    /// the same turn. Two reports may be under way at once: an attempt that finishes while one
    /// report is being committed goes out at once and joins the store's next group commit, instead
    /// of waiting for the report before it to come back.</summary>
    private async Task ReportLoopAsync()
    {
        var reader = _finished.Reader;
        using var inFlight = new SemaphoreSlim(ReportsInFlight);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            await inFlight.WaitAsync().ConfigureAwait(false);
            var batch = new List<Running>(MaxReportBatch);
            while (batch.Count < MaxReportBatch && reader.TryRead(out var running))
            {
                batch.Add(running);
            }

            _ = ReportAsync(batch, inFlight);
        }

        for (var i = 0; i < ReportsInFlight; i++)
        {
            await inFlight.WaitAsync().ConfigureAwait(false);
        }
    }

    private async Task ReportAsync(List<Running> batch, SemaphoreSlim inFlight)
    {
        try
        {
            // The finished attempts' capacity is reused for the claim, topped up from what is free:
            // a completion that releases many dependents (a fan-out) starts them all at once.
            var extra = TryReserve(Math.Max(0, _options.ClaimBatchSize - batch.Count));
            var claim = _draining ? 0 : batch.Count + extra;
            IReadOnlyList<AttemptLease> leases = [];
            try
            {
                var outcomes = batch.Select(r => r.Outcome!).ToList();
                var handOver = await _grains.GetConcurrencyGrain()
                    .ReleaseAndClaimAsync(outcomes, _silo.Id, claim, CancellationToken.None).ConfigureAwait(false);
                for (var i = 0; i < batch.Count; i++)
                {
                    if (!handOver.Accepted[i])
                    {
                        LogStaleReport(_logger, batch[i].Lease.TaskId, batch[i].Lease.Attempt);
                    }
                }

                leases = handOver.Leases;
            }
            catch (Exception ex)
            {
                // The reports did not commit (the database is gone). The attempts stay RUNNING in
                // the store; they are no longer renewed, so their leases expire and they re-run.
                foreach (var running in batch)
                {
                    LogReportFailed(_logger, ex, running.Lease.TaskId, running.Lease.Attempt);
                }
            }

            // The finished attempts' capacity passes to the new leases; the rest is released.
            foreach (var running in batch)
            {
                Finish(running, units: 0);
            }

            foreach (var lease in leases)
            {
                Start(lease);
            }

            Release(batch.Count + extra - leases.Count);
        }
        finally
        {
            inFlight.Release();
        }
    }

    private void Finish(Running running, int units)
    {
        _running.TryRemove(new KeyValuePair<string, Running>(running.Lease.TaskId, running));
        running.Cancellation.Dispose();
        running.Done.TrySetResult();
        if (units > 0)
        {
            // An attempt ended without a report turn to reuse its capacity: the dispatcher may
            // claim with it.
            Release(units);
            _signal.Set();
        }
    }

    /// <summary>Runs the handler; past the timeout the attempt fails even if the handler ignores its
    /// token, so it cannot keep its slot.</summary>
    private async Task<JsonElement?> ExecuteAsync(AttemptLease lease, CancellationToken token)
    {
        var handler = _handlers.Resolve(lease.Type);
        var execution = new TaskExecution(lease.TaskId, lease.Type, lease.Payload, lease.DurationMs, lease.Attempt, lease.MaxAttempts);
        if (lease.TimeoutMs is not { } timeoutMs)
        {
            return await handler.ExecuteAsync(execution, token).ConfigureAwait(false);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        // On a thread of its own, so that a handler that blocks before its first await cannot hold
        // up the timer either.
        var work = Task.Run(() => handler.ExecuteAsync(execution, timeout.Token), CancellationToken.None);
        var timer = Task.Delay(TimeSpan.FromMilliseconds(timeoutMs), _timeProvider, timeout.Token);
        if (await Task.WhenAny(work, timer).ConfigureAwait(false) == work)
        {
            await timeout.CancelAsync().ConfigureAwait(false);
            return await work.ConfigureAwait(false);
        }

        token.ThrowIfCancellationRequested();
        await timeout.CancelAsync().ConfigureAwait(false);
        _ = work.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        throw new TimeoutException($"timed out after {timeoutMs} ms");
    }

    private sealed class Running(AttemptLease lease, CancellationTokenSource cancellation)
    {
        public AttemptLease Lease { get; } = lease;

        public CancellationTokenSource Cancellation { get; } = cancellation;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public AttemptOutcome? Outcome { get; set; }

        /// <summary>Cancelled by a user or its lease lost: no longer this silo's to report.</summary>
        public volatile bool Abandoned;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Report of task {TaskId} attempt {Attempt} was rejected: the attempt is no longer the live one")]
    private static partial void LogStaleReport(ILogger logger, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not report task {TaskId} attempt {Attempt}; it will be recovered as a lost attempt")]
    private static partial void LogReportFailed(ILogger logger, Exception exception, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the lease of task {TaskId} attempt {Attempt} (reclaimed after it expired); stopping it")]
    private static partial void LogLeaseLost(ILogger logger, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId} attempt {Attempt} was cancelled, or its lease lost; its handler was stopped")]
    private static partial void LogAbandoned(ILogger logger, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Grace period over; cancelling and handing back {Count} attempts")]
    private static partial void LogHandingBack(ILogger logger, int count);
}
