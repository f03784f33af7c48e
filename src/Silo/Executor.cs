using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Silo.Handlers;

namespace OrleansScheduler.Silo;

/// <summary>Runs claimed attempts on the thread pool and reports each outcome to its TaskGrain.
/// Reports from many attempts are committed together by the store's group commit.</summary>
public sealed partial class Executor
{
    private readonly ConcurrentDictionary<string, Running> _running = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly IGrainFactory grains;
    private readonly TaskHandlerRegistry handlers;
    private readonly WorkSignal signal;
    private readonly SiloIdentity silo;
    private readonly TimeProvider timeProvider;
    private readonly IOptions<SiloOptions> options;
    private readonly ILogger<Executor> logger;
    private int _count;

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
        this.grains = grains;
        this.handlers = handlers;
        this.signal = signal;
        this.silo = silo;
        this.timeProvider = timeProvider;
        this.options = options;
        this.logger = logger;
        events.RunningTaskCancelled += OnCancelled;
    }

    /// <summary>Attempts running now.</summary>
    public int RunningCount => Volatile.Read(ref _count);

    public int FreeCapacity => Math.Max(0, options.Value.Capacity - RunningCount);

    public void Start(AttemptLease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        Interlocked.Increment(ref _count);
        var running = new Running(lease, CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token));
        _running[lease.TaskId] = running;
        running.Completion = Task.Run(() => RunAsync(running));
    }

    /// <summary>Graceful stop: attempts get the grace period to finish; the rest are cancelled and
    /// handed back so another silo (or this one, restarted) runs them without counting an attempt.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var inflight = _running.Values.Select(r => r.Completion).ToArray();
        if (inflight.Length == 0)
        {
            return;
        }

        try
        {
            await Task.WhenAll(inflight).WaitAsync(options.Value.ShutdownGracePeriod, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            LogHandingBack(logger, _running.Count);
            await _stopping.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_running.Values.Select(r => r.Completion)).ConfigureAwait(false);
        }
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
                LogLeaseLost(logger, attempt.TaskId, attempt.Attempt);
                Stop(running);
            }
        }
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
        running.CancelledByUser = true;
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
        var token = running.Cancellation.Token;
        try
        {
            AttemptOutcome outcome;
            try
            {
                var result = await ExecuteAsync(lease, token).ConfigureAwait(false);
                outcome = AttemptOutcome.Success(lease, result);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                await grains.GetTaskGrain(lease.TaskId)
                    .HandBackAsync(lease, $"silo {silo.Id} stopped before attempt {lease.Attempt} finished; handed back", CancellationToken.None)
                    .ConfigureAwait(false);
                return;
            }
            catch (Exception) when (running.CancelledByUser)
            {
                LogCancelled(logger, lease.TaskId, lease.Attempt);
                return;
            }
            catch (Exception ex)
            {
                outcome = AttemptOutcome.Failure(lease, ex.Message);
            }

            if (running.CancelledByUser)
            {
                LogCancelled(logger, lease.TaskId, lease.Attempt);
                return;
            }

            var accepted = await grains.GetTaskGrain(lease.TaskId).ReportAsync(outcome, CancellationToken.None).ConfigureAwait(false);
            if (!accepted)
            {
                LogStaleReport(logger, lease.TaskId, lease.Attempt);
            }
        }
        catch (Exception ex)
        {
            // The report itself failed (the database is gone): the attempt stays RUNNING in the
            // store and is recovered like any lost attempt.
            LogReportFailed(logger, ex, lease.TaskId, lease.Attempt);
        }
        finally
        {
            _running.TryRemove(new KeyValuePair<string, Running>(lease.TaskId, running));
            running.Cancellation.Dispose();
            Interlocked.Decrement(ref _count);
            signal.Set();
        }
    }

    /// <summary>Runs the handler; past the timeout the attempt fails even if the handler ignores its
    /// token, so it cannot keep its slot.</summary>
    private async Task<JsonElement?> ExecuteAsync(AttemptLease lease, CancellationToken token)
    {
        var handler = handlers.Resolve(lease.Type);
        var execution = new TaskExecution(lease.TaskId, lease.Type, lease.Payload, lease.DurationMs, lease.Attempt, lease.MaxAttempts);
        if (lease.TimeoutMs is not { } timeoutMs)
        {
            return await handler.ExecuteAsync(execution, token).ConfigureAwait(false);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        var work = handler.ExecuteAsync(execution, timeout.Token);
        var timer = Task.Delay(TimeSpan.FromMilliseconds(timeoutMs), timeProvider, timeout.Token);
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

        public Task Completion { get; set; } = Task.CompletedTask;

        public volatile bool CancelledByUser;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Report of task {TaskId} attempt {Attempt} was rejected: the attempt is no longer the live one")]
    private static partial void LogStaleReport(ILogger logger, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not report task {TaskId} attempt {Attempt}; it will be recovered as a lost attempt")]
    private static partial void LogReportFailed(ILogger logger, Exception exception, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the lease of task {TaskId} attempt {Attempt} (reclaimed after it expired); stopping it")]
    private static partial void LogLeaseLost(ILogger logger, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId} attempt {Attempt} was cancelled, or its lease lost; its handler was stopped")]
    private static partial void LogCancelled(ILogger logger, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Grace period over; cancelling and handing back {Count} attempts")]
    private static partial void LogHandingBack(ILogger logger, int count);
}
