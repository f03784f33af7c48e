using Npgsql;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Workers;

/// <summary>The WebApi with external workers' timings short enough for tests: a worker silent for
/// 3 s is dead. The cluster-wide limit stays the default 3, so a test can fill it. Subclasses put
/// their own settings (an engine, other timings) over these.</summary>
public class WorkerApp : SchedulerApp
{
    public const int Limit = 3;

    /// <summary>The timings below, then <see cref="Engine"/>'s settings over them.</summary>
    protected override IReadOnlyDictionary<string, string> Settings
    {
        get
        {
            var settings = new Dictionary<string, string>
            {
                ["Scheduler:MaxConcurrentTasks"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Workers:HeartbeatInterval"] = "00:00:00.250",
                ["Workers:LeaseDuration"] = "00:00:03",
                ["Workers:DeadAfter"] = "00:00:03",
            };
            foreach (var (key, value) in Engine)
            {
                settings[key] = value;
            }

            return settings;
        }
    }

    /// <summary>Settings of the database engine; none for SQLite (the app's own file).</summary>
    protected virtual IReadOnlyDictionary<string, string> Engine => new Dictionary<string, string>();
}

/// <summary>The same app on a PostgreSQL database of its own (ORLEANS_TEST_POSTGRES): created before
/// the app starts, dropped after. Without a server the tests skip, saying so; under CI they fail.</summary>
public sealed class PostgresWorkerApp : WorkerApp, IAsyncLifetime
{
    public const string Variable = "ORLEANS_TEST_POSTGRES";

    private readonly string? _server = Environment.GetEnvironmentVariable(Variable);
    private readonly string _name = "webapi_workers_" + Guid.NewGuid().ToString("N")[..16];
    private string? _connectionString;

    protected override IReadOnlyDictionary<string, string> Engine => _connectionString is null
        ? new Dictionary<string, string>()
        : new Dictionary<string, string> { ["Storage:DatabaseUrl"] = _connectionString };

    public async Task InitializeAsync()
    {
        if (string.IsNullOrWhiteSpace(_server))
        {
            return;
        }

        await using var admin = new NpgsqlConnection(_server);
        await admin.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{_name}\"", admin);
        await create.ExecuteNonQueryAsync();
        _connectionString = new NpgsqlConnectionStringBuilder(_server) { Database = _name, MaxPoolSize = 20 }.ConnectionString;
    }

    /// <summary>Skips the calling test when no server is configured, or fails it under CI.</summary>
    public void Require()
    {
        if (_connectionString is not null)
        {
            return;
        }

        var why = $"{Variable} is not set: no PostgreSQL server to test against (run `. .ci/postgres.sh` to start one and set it)";
        if (Environment.GetEnvironmentVariable("CI") is { Length: > 0 } ci && ci is not ("false" or "0"))
        {
            throw new InvalidOperationException($"{why}. Under CI the PostgreSQL tests must run, not skip.");
        }

        Skip.If(true, why);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (_connectionString is null)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(_server);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}

/// <summary>Workers:UnclaimedTypes = Wait: a type no silo handles and no worker claims is not
/// simulated; it waits for a worker.</summary>
public sealed class WaitingWorkerApp : WorkerApp
{
    protected override IReadOnlyDictionary<string, string> Engine =>
        new Dictionary<string, string> { ["Workers:UnclaimedTypes"] = "Wait" };
}
