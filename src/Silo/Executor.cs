using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansScheduler.Grains.Execution;
using OrleansScheduler.Grains.Telemetry;
using OrleansScheduler.Silo.Handlers;
using OrleansScheduler.Silo.Logging;

namespace OrleansScheduler.Silo;

/// <summary>Runs the attempts TaskGrains hand it, on the thread pool and outside any grain turn, and
/// reports each outcome to its grain. On a graceful stop it takes no more attempts, lets the running
/// ones finish for the grace period, and hands the rest back without counting them.</summary>
public sealed partial class Executor : IAttemptRunner, ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>How long a finished attempt's report is tried again while the task's grain cannot
    /// take it (the database is down, the grain's silo is changing): long enough for a database
    /// restart, so the outcome is kept rather than the attempt re-run.</summary>
    private static readonly TimeSpan ReportPatience = TimeSpan.FromMinutes(10);

    private static readonly TimeSpan MaxReportDelay = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, Running> _running = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly IGrainFactory _grains;
    private readonly TaskHandlerRegistry _handlers;
    private readonly TimeProvider _timeProvider;
    private readonly SchedulerSiloOptions _options;
    private readonly int _limit;
    private readonly ILogger<Executor> _logger;
    private volatile bool _draining;

    public Executor(
        IGrainFactory grains,
        TaskHandlerRegistry handlers,
        TimeProvider timeProvider,
        IOptions<SchedulerSiloOptions> options,
        IOptions<Grains.SchedulerOptions> scheduler,
        ILogger<Executor> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(scheduler);
        _grains = grains;
        _handlers = handlers;
        _timeProvider = timeProvider;
        _options = options.Value;
        _limit = scheduler.Value.MaxConcurrentTasks;
        _logger = logger;
    }

    /// <summary>Any silo may run as many attempts as the cluster-wide limit allows.</summary>
    public int Capacity => _limit;

    public bool Accepting => !_draining;

    public int RunningCount => _running.Count;

    public bool HasHandler(string type) => _handlers.HasHandler(type);

    public void Start(AttemptLease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var running = new Running(lease, CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token));
        _running[lease.TaskId] = running;
        _ = Task.Run(() => RunAsync(running));
    }

    public bool IsRunning(string taskId, long grantId) =>
        _running.TryGetValue(taskId, out var running) && running.Lease.GrantId == grantId;

    public void Cancel(string taskId, long grantId)
    {
        if (_running.TryGetValue(taskId, out var running) && running.Lease.GrantId == grantId)
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
    }

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(Executor), ServiceLifecycleStage.Active, _ => Task.CompletedTask, StopAsync);
    }

    /// <summary>Graceful stop, while grains still answer: no more attempts; the running ones get the
    /// grace period to finish and be reported; the rest are cancelled and handed back, so another
    /// silo (or this one, restarted) runs them without counting an attempt.</summary>
    private async Task StopAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        var running = _running.Values.ToList();
        try
        {
            await Task.WhenAll(running.Select(r => r.Done.Task))
                .WaitAsync(_options.ShutdownGracePeriod, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            LogHandingBack(_logger, _running.Count);
            await _stopping.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_running.Values.Select(r => r.Done.Task)).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(Running running)
    {
        var lease = running.Lease;
        // One span per attempt, a child of the trace that submitted the task (null without a
        // listener, i.e. without an OTLP exporter); the report to the grain is inside it.
        using var span = TaskTracing.Start("task.attempt", lease.TraceParent, lease.TaskId);
        span?.SetTag("task.type", lease.Type);
        span?.SetTag("task.attempt", lease.Attempt);

        // Every line written while the attempt runs, the handler's own included, names the task,
        // the attempt and the trace of the request that submitted the task.
        using var scope = _logger.BeginScope(new AttemptLogScope(lease.TaskId, lease.Attempt, TaskTracing.TraceIdOf(lease.TraceParent)));
        LogAttemptStarted(_logger, lease.TaskId, lease.Attempt, lease.Type);
        AttemptOutcome outcome;
        try
        {
            var result = await ExecuteAsync(lease, running.Cancellation.Token).ConfigureAwait(false);
            outcome = AttemptOutcome.Success(lease, result);
        }
        catch (Exception) when (running.Abandoned)
        {
            outcome = null!;
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            span?.SetTag("task.outcome", "handed_back");
            await ReportAsync(running, grain => grain.HandBackAsync(lease, $"silo {lease.SiloId} stopped before attempt {lease.Attempt} finished; handed back")).ConfigureAwait(false);
            return;
        }
        catch (Exception ex)
        {
            outcome = AttemptOutcome.Failure(lease, ex.Message);
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
        }

        if (running.Abandoned)
        {
            // Cancelled by a user: the grain already ended the attempt and gave the slot back.
            span?.SetTag("task.outcome", "cancelled");
            LogAbandoned(_logger, lease.TaskId, lease.Attempt);
            Finish(running);
            return;
        }

        span?.SetTag("task.outcome", outcome.Succeeded ? "completed" : "failed");
        LogAttemptEnded(_logger, lease.TaskId, lease.Attempt, outcome.Succeeded ? "succeeded" : "failed", outcome.Error);
        await ReportAsync(running, grain => grain.EndAttemptAsync(outcome)).ConfigureAwait(false);
    }

    /// <summary>Reports to the task's grain, again and again while the call fails (for up to
    /// <see cref="ReportPatience"/>, or until the silo stops). The attempt counts as running here
    /// until then, so a grain asking whether it is alive is not told it was lost while its report
    /// is on the way. Giving up after three quick tries lost the outcomes of attempts that ended
    /// during a PostgreSQL restart, and, where the task's grain had moved to another live silo,
    /// left the task RUNNING until this silo died (the EndToEnd PostgreSQL restart test).</summary>
    private async Task ReportAsync(Running running, Func<ITaskGrain, Task<bool>> report)
    {
        var lease = running.Lease;
        var started = _timeProvider.GetTimestamp();
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    if (!await report(_grains.GetGrain<ITaskGrain>(lease.TaskId)).ConfigureAwait(false))
                    {
                        LogStaleReport(_logger, lease.TaskId, lease.Attempt);
                    }

                    return;
                }
                catch (InconsistentStateException ex)
                {
                    // Another activation owns the task now (this silo was declared dead meanwhile).
                    LogStaleActivation(_logger, ex, lease.TaskId, lease.Attempt);
                    return;
                }
                catch (Exception ex) when (_timeProvider.GetElapsedTime(started) < ReportPatience && !_stopping.IsCancellationRequested)
                {
                    LogReportRetry(_logger, ex, lease.TaskId, lease.Attempt);
                    try
                    {
                        var delay = TimeSpan.FromMilliseconds(Math.Min(MaxReportDelay.TotalMilliseconds, 200 * attempt));
                        await Task.Delay(delay, _timeProvider, _stopping.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // The silo stops: the attempt is left to recovery, like one whose silo died.
                        return;
                    }
                }
                catch (Exception ex)
                {
                    // Given up: the task stays RUNNING with a grant nobody runs; recovery finds it
                    // (this executor no longer has it) and records the attempt as lost.
                    LogReportFailed(_logger, ex, lease.TaskId, lease.Attempt);
                    return;
                }
            }
        }
        finally
        {
            Finish(running);
        }
    }

    private void Finish(Running running)
    {
        _running.TryRemove(new KeyValuePair<string, Running>(running.Lease.TaskId, running));
        running.Cancellation.Dispose();
        running.Done.TrySetResult();
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

        /// <summary>Cancelled by a user: no longer this silo's to report.</summary>
        public volatile bool Abandoned;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Report of task {TaskId} attempt {Attempt} was rejected: the attempt is no longer the live one")]
    private static partial void LogStaleReport(ILogger logger, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Report of task {TaskId} attempt {Attempt} was rejected: another activation owns the task (this silo was declared dead)")]
    private static partial void LogStaleActivation(ILogger logger, Exception exception, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Report of task {TaskId} attempt {Attempt} failed; trying again")]
    private static partial void LogReportRetry(ILogger logger, Exception exception, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not report task {TaskId} attempt {Attempt}; it will be recovered as a lost attempt")]
    private static partial void LogReportFailed(ILogger logger, Exception exception, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId} attempt {Attempt} was cancelled; its handler was stopped")]
    private static partial void LogAbandoned(ILogger logger, string taskId, int attempt);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Task {TaskId} attempt {Attempt}: the {Type} handler starts")]
    private static partial void LogAttemptStarted(ILogger logger, string taskId, int attempt, string type);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Task {TaskId} attempt {Attempt}: the handler {Outcome} {Error}")]
    private static partial void LogAttemptEnded(ILogger logger, string taskId, int attempt, string outcome, string? error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Grace period over; cancelling and handing back {Count} attempts")]
    private static partial void LogHandingBack(ILogger logger, int count);
}
