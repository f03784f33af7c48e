using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;

namespace OrleansScheduler.WebApi.Tests.Support;

/// <summary>The real WebApi (in-process silo, real SQLite file) behind a test server, with its own
/// database in a temp folder. One per test class (a class fixture), so classes run in parallel.
/// Derive and override <see cref="Settings"/> for a class that needs other configuration.</summary>
public class SchedulerApp : WebApplicationFactory<Program>
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "orleans-scheduler-tests", Guid.NewGuid().ToString("N"));

    public SchedulerApp()
    {
        Directory.CreateDirectory(_folder);
    }

    public string DatabasePath => Path.Combine(_folder, "scheduler.db");

    /// <summary>Every error the server logged, to assert that bad input left no unhandled exception.</summary>
    public LogCollector Logs { get; } = new();

    /// <summary>Configuration on top of appsettings.json; the database is always this app's own.</summary>
    protected virtual IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.UseSetting("Storage:DatabaseUrl", DatabasePath);
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        // A test host stops with tasks still running; they are handed back, no need to wait long.
        builder.UseSetting("Silo:ShutdownGracePeriod", "00:00:01");
        foreach (var (key, value) in Settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging => logging.AddProvider(Logs));
    }

    public Api Api() => new(CreateClient());

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temp cleanup if a file is still held.
        }
    }
}
