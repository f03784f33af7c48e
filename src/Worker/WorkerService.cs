using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansScheduler.Worker;

/// <summary>The reference worker's loops (issue 11, /docs/workers.md): register, a lease long poll
/// while it has free capacity, the tasks run concurrently and reported, a heartbeat with the tasks
/// it holds and the machine's figures, and deregistration on shutdown. The server being away (no
/// answer, 5xx) is waited out with backoff, a 404 (the server forgot the worker) is answered by
/// registering again, so the worker rides out a server restart with its tasks still running.</summary>
internal sealed class WorkerService : IDisposable
{
    /// <summary>The long poll's wait_ms: under the server's 30 s cap, long enough to cost nothing idle.</summary>
    public const int LeaseWaitMs = 20_000;

    /// <summary>How long a busy worker lets freed capacity gather before it polls for less than
    /// <see cref="LeaseBatch"/> tasks.</summary>
    public static readonly TimeSpan CoalesceWindow = TimeSpan.FromMilliseconds(5);

    /// <summary>Backoff after a failed call doubles from this...</summary>
    public static readonly TimeSpan BackoffStart = TimeSpan.FromMilliseconds(100);

    /// <summary>...up to this, so a restarted server is found again within 2 s.</summary>
    public static readonly TimeSpan BackoffCap = TimeSpan.FromSeconds(2);

    private readonly WorkerOptions _options;
    private readonly WorkerLog _log;
    private readonly TimeProvider _time;
    private readonly SchedulerClient _client;
    private readonly TaskRunner _runner;
    private readonly SystemInfoReader _systemInfo;
    private readonly ConcurrentDictionary<string, RunningTask> _tasks = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _registering = new(1, 1);
    private TaskCompletionSource _capacityFreed = NewSignal();
    private int _held;
    private int _registration;
    private TimeSpan _heartbeatInterval = TimeSpan.FromSeconds(2);
    private TimeSpan _leaseDuration = TimeSpan.FromSeconds(6);

    /// <summary>A quarter of the most a lease may ask for: a lease of fewer waits for the window.</summary>
    private int LeaseBatch => Math.Max(1, Math.Min(_options.MaxLease, _options.MaxConcurrent) / 4);

    public WorkerService(WorkerOptions options, WorkerLog log, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _log = log;
        _time = time;
        _client = new SchedulerClient(options.Server, options.WorkerId, options.ApiKey, options.MaxConcurrent);
        _runner = new TaskRunner(options.Commands, time);
        _systemInfo = new SystemInfoReader(Environment.CurrentDirectory);
    }

    /// <summary>Runs until <paramref name="shutdown"/> (SIGTERM, Ctrl+C), then stops leasing, kills
    /// what runs, deregisters and returns 0; returns 2 when the server refuses the worker for good.</summary>
    public async Task<int> RunAsync(CancellationToken shutdown)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        var fatal = (string?)null;
        try
        {
            await RegisterAsync(stopping.Token).ConfigureAwait(false);
        }
        catch (WorkerFatalException ex)
        {
            _log.Line($"register refused: {ex.Message}");
            return 2;
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            _log.Line("stopped before registering");
            return 0;
        }

        async Task Loop(Func<CancellationToken, Task> loop)
        {
            try
            {
                await loop(stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // Shutting down.
            }
            catch (WorkerFatalException ex)
            {
                fatal = ex.Message;
                await stopping.CancelAsync().ConfigureAwait(false);
            }
        }

        var leasing = Loop(LeaseLoopAsync);
        var heartbeating = Loop(HeartbeatLoopAsync);
        await Task.WhenAny(leasing, heartbeating).ConfigureAwait(false);
        await Task.WhenAll(leasing, heartbeating).ConfigureAwait(false);

        _log.Line($"shutting down: {_tasks.Count} task(s) held");
        foreach (var running in _tasks.Values)
        {
            running.Stop(fatal is null ? "worker shutting down" : "worker refused");
        }

        await WaitUntilNothingHeldAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        if (fatal is not null)
        {
            _log.Line($"register refused: {fatal}");
            return 2;
        }

        await DeregisterAsync().ConfigureAwait(false);
        return 0;
    }

    public void Dispose()
    {
        _client.Dispose();
        _registering.Dispose();
    }

    private async Task RegisterAsync(CancellationToken cancellation)
    {
        var backoff = new Backoff();
        while (true)
        {
            var answer = await _client.RegisterAsync(_options.WorkerId, _options.Capabilities, _options.MaxConcurrent, cancellation).ConfigureAwait(false);
            if (answer.Status == 201 || answer.Ok)
            {
                var registered = JsonSerializer.Deserialize<Registered>(answer.Body);
                if (registered?.HeartbeatIntervalMs > 0)
                {
                    _heartbeatInterval = TimeSpan.FromMilliseconds(registered.HeartbeatIntervalMs.Value);
                }

                if (registered?.LeaseDurationMs > 0)
                {
                    _leaseDuration = TimeSpan.FromMilliseconds(registered.LeaseDurationMs.Value);
                }

                Interlocked.Increment(ref _registration);
                _log.Line($"registered {_options.WorkerId} at {_options.Server} (capabilities {string.Join(",", _options.Capabilities)}; "
                    + $"max {_options.MaxConcurrent} concurrent; heartbeat {_heartbeatInterval.TotalMilliseconds:0} ms, lease {_leaseDuration.TotalMilliseconds:0} ms)");
                return;
            }

            if (!answer.Transient && answer.Status is not (404 or 409))
            {
                throw new WorkerFatalException(answer.Describe());
            }

            if (backoff.Attempts is 0 or 10 || backoff.Attempts % 30 == 0)
            {
                _log.Line($"register failed, retrying: {answer.Describe()}");
            }

            await backoff.WaitAsync(_time, cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>Registers again after a 404, once for all the loops that saw the same registration
    /// forgotten.</summary>
    private async Task RegisterAgainAsync(int seen, CancellationToken cancellation)
    {
        await _registering.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _registration) == seen)
            {
                _log.Line("the server does not know this worker (404): registering again");
                await RegisterAsync(cancellation).ConfigureAwait(false);
            }
        }
        finally
        {
            _registering.Release();
        }
    }

    private async Task LeaseLoopAsync(CancellationToken cancellation)
    {
        var backoff = new Backoff();
        var lastLease = DateTimeOffset.MinValue;
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            var freed = Volatile.Read(ref _capacityFreed).Task;
            var held = Volatile.Read(ref _held);
            var free = _options.MaxConcurrent - held;
            if (free <= 0)
            {
                await freed.WaitAsync(cancellation).ConfigureAwait(false);
                continue;
            }

            // Busy with a little room: let the room gather for a moment into one bigger lease
            // rather than a poll per finished task (each poll is a turn of the cluster's slot
            // issuer). An idle worker polls at once, so a task for it waits for no window.
            var sinceLease = _time.GetUtcNow() - lastLease;
            if (held > 0 && free < LeaseBatch && sinceLease < CoalesceWindow)
            {
                await Task.WhenAny(freed, Task.Delay(CoalesceWindow - sinceLease, _time)).WaitAsync(cancellation).ConfigureAwait(false);
                continue;
            }

            lastLease = _time.GetUtcNow();

            var registration = Volatile.Read(ref _registration);
            var answer = await _client.LeaseAsync(Math.Min(_options.MaxLease, free), LeaseWaitMs, cancellation).ConfigureAwait(false);
            if (answer.Ok)
            {
                backoff.Reset();
                var leased = JsonSerializer.Deserialize<Leased>(answer.Body)?.Tasks ?? [];
                if (leased.Count > 0)
                {
                    _log.Line($"leased {leased.Count} task(s): {string.Join(", ", leased.Select(t => t.Id))}");
                }

                foreach (var task in leased)
                {
                    Start(task);
                }

                continue;
            }

            if (answer.Status == 404)
            {
                await RegisterAgainAsync(registration, cancellation).ConfigureAwait(false);
                continue;
            }

            _log.Line($"lease failed: {answer.Describe()}");
            await backoff.WaitAsync(_time, cancellation).ConfigureAwait(false);
        }
    }

    private void Start(LeasedTask task)
    {
        var running = new RunningTask(task);
        Interlocked.Increment(ref _held);
        _tasks.AddOrUpdate(task.Id, running, (_, older) =>
        {
            // The server leased the task again (its earlier lease was lost, e.g. while this process
            // was frozen): the older run is stale. One still running is killed; one whose run has
            // ended is left to its report, which the server answers 409 (as a heartbeat's stop).
            if (!older.Finished)
            {
                older.Stop("leased again");
            }

            return running;
        });
        _ = Task.Run(() => RunAsync(running));
    }

    private async Task RunAsync(RunningTask running)
    {
        var task = running.Task;
        try
        {
            TaskOutcome outcome;
            try
            {
                outcome = await _runner.RunAsync(task, running.Stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (running.Stopping.IsCancellationRequested)
            {
                _log.Line($"task {task.Id} stopped ({running.StopReason}), not reported");
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                outcome = TaskOutcome.Failed($"the worker could not run it: {ex.Message}");
            }

            running.Finished = true;
            await ReportAsync(running, outcome).ConfigureAwait(false);
        }
        finally
        {
            _tasks.TryRemove(new KeyValuePair<string, RunningTask>(task.Id, running));
            running.Dispose();
            Interlocked.Decrement(ref _held);
            Interlocked.Exchange(ref _capacityFreed, NewSignal()).TrySetResult();
        }
    }

    /// <summary>Reports until the server answers; with no answer (or a 5xx) it retries with backoff
    /// for as long as it takes. The lease cannot expire while no server hears from the worker (a
    /// restarted one starts its clock when it is back, and this task, still held, is listed in the
    /// heartbeats meanwhile), so a result is never dropped just because the server was away; a
    /// lease that did end is answered 409.</summary>
    private async Task ReportAsync(RunningTask running, TaskOutcome outcome)
    {
        var task = running.Task;
        var backoff = new Backoff();
        while (true)
        {
            ApiAnswer answer;
            try
            {
                answer = outcome.Succeeded
                    ? await _client.CompleteAsync(task.Id, task.LeaseToken, outcome.ResultJson, running.Stopping).ConfigureAwait(false)
                    : await _client.FailAsync(task.Id, task.LeaseToken, outcome.Error ?? "failed", running.Stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (running.Stopping.IsCancellationRequested)
            {
                _log.Line($"task {task.Id} report abandoned ({running.StopReason})");
                return;
            }

            if (answer.Ok)
            {
                _log.Line(outcome.Succeeded
                    ? $"task {task.Id} completed"
                    : $"task {task.Id} failed (now {ReportedStatus(answer.Body)}): {outcome.Error}");
                return;
            }

            if (answer.Status == 409)
            {
                _log.Line($"task {task.Id} lease lost (409), result dropped: {answer.Describe()}");
                return;
            }

            if (!answer.Transient)
            {
                _log.Line($"task {task.Id} report rejected, result dropped: {answer.Describe()}");
                return;
            }

            if (backoff.Attempts is 0 or 10 || backoff.Attempts % 30 == 0)
            {
                _log.Line($"task {task.Id} report not answered, retrying: {answer.Describe()}");
            }

            try
            {
                await backoff.WaitAsync(_time, running.Stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _log.Line($"task {task.Id} report abandoned ({running.StopReason})");
                return;
            }
        }
    }

    private async Task HeartbeatLoopAsync(CancellationToken cancellation)
    {
        var backoff = new Backoff();
        var failures = 0;
        while (true)
        {
            await Task.Delay(failures == 0 ? _heartbeatInterval : backoff.Next(_heartbeatInterval), _time, cancellation).ConfigureAwait(false);
            var registration = Volatile.Read(ref _registration);
            var held = _tasks.Keys;
            var answer = await _client.HeartbeatAsync(held, _systemInfo.Read(), cancellation).ConfigureAwait(false);
            if (answer.Ok)
            {
                if (failures > 0)
                {
                    _log.Line($"heartbeat answered again after {failures} failure(s)");
                }

                failures = 0;
                backoff.Reset();
                Apply(JsonSerializer.Deserialize<HeartbeatAnswer>(answer.Body));
                continue;
            }

            if (answer.Status == 404)
            {
                await RegisterAgainAsync(registration, cancellation).ConfigureAwait(false);
                continue;
            }

            failures++;
            _log.Line($"heartbeat failed ({failures}): {answer.Describe()}");
        }
    }

    private void Apply(HeartbeatAnswer? answer)
    {
        if (answer is null)
        {
            return;
        }

        if (answer.HeartbeatIntervalMs > 0)
        {
            _heartbeatInterval = TimeSpan.FromMilliseconds(answer.HeartbeatIntervalMs.Value);
        }

        if (answer.LeaseDurationMs > 0)
        {
            _leaseDuration = TimeSpan.FromMilliseconds(answer.LeaseDurationMs.Value);
        }

        foreach (var stop in answer.Stop ?? [])
        {
            // A task whose run has ended is left to its report: the server answers it (409 when the
            // lease is gone), and there is nothing left to kill.
            if (_tasks.TryGetValue(stop.TaskId, out var running) && !running.Finished)
            {
                _log.Line($"task {stop.TaskId}: the server says stop ({stop.Reason})");
                running.Stop(stop.Reason ?? "stop");
            }
        }
    }

    private async Task DeregisterAsync()
    {
        var backoff = new Backoff();
        var giveUpAt = _time.GetUtcNow() + TimeSpan.FromSeconds(10);
        while (true)
        {
            var answer = await _client.DeregisterAsync(CancellationToken.None).ConfigureAwait(false);
            if (answer.Ok)
            {
                var handedBack = JsonSerializer.Deserialize<Deregistered>(answer.Body)?.HandedBack ?? [];
                _log.Line($"deregistered {_options.WorkerId}; tasks handed back: {(handedBack.Count == 0 ? "none" : string.Join(", ", handedBack))}");
                return;
            }

            if (!answer.Transient || _time.GetUtcNow() >= giveUpAt)
            {
                _log.Line($"deregister failed: {answer.Describe()}");
                return;
            }

            await backoff.WaitAsync(_time, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task WaitUntilNothingHeldAsync(TimeSpan timeout)
    {
        var giveUpAt = _time.GetUtcNow() + timeout;
        while (Volatile.Read(ref _held) > 0 && _time.GetUtcNow() < giveUpAt)
        {
            var freed = Volatile.Read(ref _capacityFreed).Task;
            if (Volatile.Read(ref _held) > 0)
            {
                await Task.WhenAny(freed, Task.Delay(TimeSpan.FromMilliseconds(100), _time)).ConfigureAwait(false);
            }
        }
    }

    private static string ReportedStatus(string body)
    {
        try
        {
            return JsonSerializer.Deserialize<Reported>(body)?.Status ?? "?";
        }
        catch (JsonException)
        {
            return "?";
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed record Registered(
        [property: JsonPropertyName("heartbeat_interval_ms")] long? HeartbeatIntervalMs,
        [property: JsonPropertyName("lease_duration_ms")] long? LeaseDurationMs);

    private sealed record Leased([property: JsonPropertyName("tasks")] List<LeasedTask>? Tasks);

    private sealed record StopOrder(
        [property: JsonPropertyName("task_id")] string TaskId,
        [property: JsonPropertyName("reason")] string? Reason);

    private sealed record HeartbeatAnswer(
        [property: JsonPropertyName("stop")] List<StopOrder>? Stop,
        [property: JsonPropertyName("heartbeat_interval_ms")] long? HeartbeatIntervalMs,
        [property: JsonPropertyName("lease_duration_ms")] long? LeaseDurationMs);

    private sealed record Deregistered([property: JsonPropertyName("handed_back")] List<string>? HandedBack);

    private sealed record Reported([property: JsonPropertyName("status")] string? Status);
}
