using Microsoft.Extensions.Options;
using Orleans;

namespace OrleansScheduler.WebApi.Telemetry;

/// <summary>Evaluates the alert rules every Alerts:EvaluationInterval from the cached stats (a fixed
/// number of rows) and the slot holders (bounded by the limit), and keeps the firing alerts with the
/// time each began, for GET /api/alerts and /health/ready.</summary>
public sealed partial class AlertEvaluator(
    StatsSnapshot snapshot,
    IGrainFactory grains,
    IOptions<AlertsOptions> options,
    TimeProvider timeProvider,
    ILogger<AlertEvaluator> logger) : BackgroundService
{
    private readonly AlertRules _rules = new(options.Value);

    /// <summary>Timeouts of the tasks holding slots (a task's timeout never changes), by id; only the
    /// current holders are kept.</summary>
    private Dictionary<string, long?> _timeouts = new(StringComparer.Ordinal);

    private volatile IReadOnlyList<Alert> _firing = [];

    /// <summary>The firing alerts, oldest first.</summary>
    public IReadOnlyList<Alert> Firing => _firing;

    /// <summary>RUNNING tasks past their timeout plus the grace at the last evaluation (the
    /// scheduler.tasks.overdue gauge); null before the first.</summary>
    public long? Overdue { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.EvaluationInterval, timeProvider);
        do
        {
            try
            {
                await EvaluateAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogEvaluationFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>One evaluation; public so the host can be asked for one now.</summary>
    public async Task EvaluateAsync(CancellationToken cancellationToken)
    {
        SchedulerStats? stats = null;
        string? unavailable = null;
        try
        {
            stats = await snapshot.GetAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            unavailable = ex.Message;
        }

        var now = timeProvider.GetUtcNow();
        var overdue = stats is null ? [] : await OverdueAsync(stats, now).ConfigureAwait(false);
        Overdue = stats is null ? null : overdue.Count;
        var firing = _rules.Evaluate(now, stats, unavailable, overdue);
        var before = _firing.ToDictionary(a => a.Name, StringComparer.Ordinal);
        var next = firing
            .Select(f => before.TryGetValue(f.Name, out var was) ? was with { Message = f.Message } : new Alert(f.Name, f.Severity, now, f.Message))
            .OrderBy(a => a.Since)
            .ToList();
        foreach (var alert in next.Where(a => !before.ContainsKey(a.Name)))
        {
            LogFiring(logger, alert.Name, alert.Severity, alert.Message);
        }

        foreach (var name in before.Keys.Where(n => next.All(a => a.Name != n)))
        {
            LogCleared(logger, name);
        }

        _firing = next;
    }

    private async Task<List<(string TaskId, TimeSpan Running)>> OverdueAsync(SchedulerStats stats, DateTimeOffset now)
    {
        var settings = options.Value;
        var timeouts = new Dictionary<string, long?>(StringComparer.Ordinal);
        var overdue = new List<(string, TimeSpan)>();
        foreach (var holder in stats.Slots.Holders)
        {
            if (!_timeouts.TryGetValue(holder.TaskId, out var timeoutMs))
            {
                timeoutMs = (await grains.GetTaskGrain(holder.TaskId).GetAsync().ConfigureAwait(false))?.TimeoutMs;
            }

            timeouts[holder.TaskId] = timeoutMs;
            var running = now - holder.Since;
            var limit = timeoutMs is { } ms ? TimeSpan.FromMilliseconds(ms) + settings.TaskOverdueGrace : settings.TaskMaxRunTime;
            if (limit is { } l && running > l)
            {
                overdue.Add((holder.TaskId, running));
            }
        }

        _timeouts = timeouts;
        return overdue;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert {Alert} ({Severity}) is firing: {Message}")]
    private static partial void LogFiring(ILogger logger, string alert, string severity, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Alert {Alert} cleared")]
    private static partial void LogCleared(ILogger logger, string alert);

    [LoggerMessage(Level = LogLevel.Error, Message = "Evaluating the alert rules failed")]
    private static partial void LogEvaluationFailed(ILogger logger, Exception exception);
}
