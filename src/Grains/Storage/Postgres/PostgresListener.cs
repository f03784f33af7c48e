using Microsoft.Extensions.Logging;
using Npgsql;

namespace OrleansScheduler.Grains.Storage.Postgres;

/// <summary>Wake-ups across processes: a dedicated connection LISTENs on the store's channels and
/// turns notifications from other store instances (other silos) into this process's
/// <see cref="WorkSignal"/> and <see cref="StoreEvents"/>. A dropped connection is reopened with
/// backoff; after a reconnect every signal is set once, since notifications sent while it was down
/// are lost. The silos' slow fallback poll covers whatever this misses.</summary>
internal sealed partial class PostgresListener : IAsyncDisposable
{
    public const string WorkChannel = "scheduler_work";
    public const string RemindersChannel = "scheduler_reminders";
    public const string CancelledChannel = "scheduler_cancelled";

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly string _connectionString;
    private readonly string _origin;
    private readonly WorkSignal _signal;
    private readonly StoreEvents _events;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private volatile NpgsqlConnection? _connection;

    public PostgresListener(string connectionString, string origin, WorkSignal signal, StoreEvents events, TimeProvider timeProvider, ILogger logger)
    {
        // Its own physical connection, kept alive so a silently dead network is noticed.
        _connectionString = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false,
            KeepAlive = 5,
            TcpKeepAlive = true,
            ApplicationName = "orleans-scheduler-listener",
        }.ConnectionString;
        _origin = origin;
        _signal = signal;
        _events = events;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Times the connection was (re)established; for tests and diagnostics.</summary>
    public int Connections { get; private set; }

    /// <summary>Starts listening; completes once the first LISTEN is in place, so that a commit
    /// made after the store opened is never missed.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop ??= Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        return _listening.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Closes the current connection, as a network failure would (tests use this to check
    /// the reconnect).</summary>
    internal async Task DropConnectionAsync()
    {
        if (_connection is { } connection)
        {
            await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_connectionString) { ApplicationName = "orleans-scheduler-admin" }.ConnectionString);
            await admin.OpenAsync().ConfigureAwait(false);
            await using var kill = new NpgsqlCommand("SELECT pg_terminate_backend(@pid)", admin);
            kill.Parameters.AddWithValue("pid", connection.ProcessID);
            await kill.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var delay = FirstRetryDelay;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(_connectionString);
                await connection.OpenAsync(stop).ConfigureAwait(false);
                connection.Notification += OnNotification;
                await using (var listen = new NpgsqlCommand($"LISTEN {WorkChannel}; LISTEN {RemindersChannel}; LISTEN {CancelledChannel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                }

                _connection = connection;
                Connections++;
                if (Connections > 1)
                {
                    LogReconnected(_logger, Connections - 1);
                }

                // Whatever was notified while no LISTEN was in place is lost: look once.
                _signal.Set();
                _events.RemindersChanged.Set();
                _listening.TrySetResult();
                delay = FirstRetryDelay;
                while (true)
                {
                    await connection.WaitAsync(stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
            {
                _connection = null;
                LogDropped(_logger, ex, delay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, _timeProvider, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }

                delay = TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, delay.Ticks * 2));
            }
        }

        _connection = null;
        _listening.TrySetCanceled(stop);
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        switch (e.Channel)
        {
            case WorkChannel when e.Payload != _origin:
                _signal.Set();
                break;
            case RemindersChannel when e.Payload != _origin:
                _events.RemindersChanged.Set();
                break;
            case CancelledChannel:
                var colon = e.Payload.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && !e.Payload.AsSpan(0, colon).SequenceEqual(_origin))
                {
                    // The cancelling turn also freed a slot, so the dispatcher may claim again.
                    _signal.Set();
                    var taskId = e.Payload[(colon + 1)..];
                    try
                    {
                        _events.RaiseCancelled([taskId]);
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        // A subscriber's failure must not take the listener (and every later wake-up) down.
                        LogCancelHandlerFailed(_logger, ex, taskId);
                    }
                }

                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The LISTEN connection dropped; reconnecting in {DelayMs} ms")]
    private static partial void LogDropped(ILogger logger, Exception exception, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "A RunningTaskCancelled handler failed for task {TaskId}")]
    private static partial void LogCancelHandlerFailed(ILogger logger, Exception exception, string taskId);

    [LoggerMessage(Level = LogLevel.Information, Message = "The LISTEN connection is back (reconnect {Reconnects}); signals set once for what may have been missed")]
    private static partial void LogReconnected(ILogger logger, int reconnects);
}
