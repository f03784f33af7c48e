using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace OrleansScheduler.EndToEnd.Tests.Support;

/// <summary>A real scheduler process as a child: `dotnet OrleansScheduler.WebApi.dll` (or the
/// Silo's dll) from the build output of this test's configuration, with DATABASE_URL, PORT and
/// any further settings as environment variables, working in a temp folder. Captures stdout and
/// stderr for failure messages and for checks on what it logged; killed on dispose whatever
/// happened (a stopped process too: SIGKILL ends it).</summary>
public sealed class ServerProcess : IDisposable
{
    private readonly ConcurrentQueue<string> _output = new();
    private readonly IReadOnlyDictionary<string, string> _settings;
    private Process? _process;
    private int _generation;

    /// <summary>The WebApi (silo hosted in-process) on <paramref name="port"/>.</summary>
    public ServerProcess(string workingDirectory, string databasePath, int port)
        : this("server", WebApiDll, workingDirectory, databasePath, port, new Dictionary<string, string>())
    {
    }

    private ServerProcess(string name, string dll, string workingDirectory, string databaseUrl, int? port, IReadOnlyDictionary<string, string> settings)
    {
        Name = name;
        Dll = dll;
        WorkingDirectory = workingDirectory;
        DatabasePath = databaseUrl;
        Port = port ?? 0;
        BaseAddress = new Uri($"http://127.0.0.1:{Port}");
        _settings = settings;
    }

    /// <summary>A WebApi process named <paramref name="name"/> in failure messages, with extra
    /// configuration (environment variables such as <c>Silo__Enabled=false</c>).</summary>
    public static ServerProcess WebApi(string name, string workingDirectory, string databaseUrl, int port, IReadOnlyDictionary<string, string> settings) =>
        new(name, WebApiDll, workingDirectory, databaseUrl, port, settings);

    /// <summary>A silo process (no HTTP) named <paramref name="name"/>.</summary>
    public static ServerProcess Silo(string name, string workingDirectory, string databaseUrl, IReadOnlyDictionary<string, string> settings) =>
        new(name, SiloDll, workingDirectory, databaseUrl, null, settings);

    public string Name { get; }

    public string Dll { get; }

    public string WorkingDirectory { get; }

    /// <summary>DATABASE_URL: a SQLite path or a PostgreSQL connection string.</summary>
    public string DatabasePath { get; }

    public int Port { get; }

    public Uri BaseAddress { get; }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The running process's id.</summary>
    public int Pid => _process?.Id ?? throw new InvalidOperationException($"{Name} is not running.");

    public static string WebApiDll => BuiltDll("WebApi");

    public static string SiloDll => BuiltDll("Silo");

    /// <summary>A TCP port nobody listens on now (the OS picks it).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Start()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"{Name} is already running.");
        }

        var generation = Interlocked.Increment(ref _generation);
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = WorkingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Dll);
        // Settings the test does not choose must not leak in from the environment running the tests.
        foreach (var name in new[] { "ASPNETCORE_URLS", "DOTNET_URLS", "URLS", "ASPNETCORE_HTTP_PORTS", "MAX_CONCURRENT_TASKS", "SILO_ID", "API_KEYS", "RATE_LIMIT_SUBMITS_PER_SECOND" })
        {
            start.Environment.Remove(name);
        }

        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("Scheduler__", StringComparison.OrdinalIgnoreCase)
                     || k.StartsWith("Silo__", StringComparison.OrdinalIgnoreCase) || k.StartsWith("Storage__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        if (Port != 0)
        {
            start.Environment["PORT"] = Port.ToString(CultureInfo.InvariantCulture);
        }

        start.Environment["DATABASE_URL"] = DatabasePath;
        start.Environment["LOG_LEVEL"] = "info";
        // The scheduler's own lines, not one per HTTP request (appsettings.json is not in the
        // temp working directory, so its "Microsoft.AspNetCore": "Warning" does not apply).
        start.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        foreach (var (name, value) in _settings)
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Record(generation, "out", e.Data);
        process.ErrorDataReceived += (_, e) => Record(generation, "err", e.Data);
        process.Exited += (_, _) => _output.Enqueue($"[{generation} exited]");
        if (!process.Start())
        {
            throw new InvalidOperationException("dotnet did not start.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        var shown = string.Join(" ", _settings.Select(s => $"{s.Key}={s.Value}"));
        _output.Enqueue($"[{generation} started pid {process.Id}: dotnet {Dll} PORT={Port} DATABASE_URL={DatabasePath} {shown}]");
    }

    /// <summary>SIGKILL on Linux (Process.Kill sends it): no shutdown code runs, nothing is flushed
    /// or handed back. Returns once the process is gone.</summary>
    public void KillHard()
    {
        var process = _process ?? throw new InvalidOperationException($"{Name} was never started.");
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
        _output.Enqueue($"[killed pid {process.Id}, exit code {process.ExitCode}]");
        process.Dispose();
        _process = null;
    }

    /// <summary>SIGSTOP: the process is frozen where it is (its connections stay open, its timers
    /// stop) until <see cref="Resume"/>.</summary>
    public void Pause() => Signal("STOP");

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => Signal("CONT");

    /// <summary>Every line captured so far (both streams, all generations), each stamped with the
    /// time (UTC) it reached the test.</summary>
    public IReadOnlyList<string> Lines => _output.ToArray();

    /// <summary>The last lines the process wrote, for failure messages.</summary>
    public string Output(int lines = 80) =>
        $"--- {Name} output (last {lines} lines) ---{Environment.NewLine}{string.Join(Environment.NewLine, _output.TakeLast(lines))}";

    public void Dispose()
    {
        if (_process is { } process)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit();
                }
            }
            catch (InvalidOperationException)
            {
                // Exited between the check and the kill.
            }

            process.Dispose();
            _process = null;
        }
    }

    private void Signal(string signal)
    {
        var pid = Pid;
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { $"-{signal}", pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })
            ?? throw new InvalidOperationException("kill did not start.");
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {pid} exited with {kill.ExitCode}.");
        }

        _output.Enqueue($"[SIG{signal} sent to pid {pid}]");
    }

    private void Record(int generation, string stream, string? line)
    {
        if (line is not null)
        {
            _output.Enqueue($"[{generation} {stream} {DateTime.UtcNow:HH:mm:ss.fff}] {line}");
        }
    }

    internal static string BuiltDll(string project)
    {
        var configuration = typeof(ServerProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(RepoRoot(), "src", project, "bin", configuration, "net10.0", $"OrleansScheduler.{project}.dll");
        return File.Exists(dll)
            ? dll
            : throw new InvalidOperationException($"{dll} does not exist; build src/{project} in {configuration} first (building this test project does).");
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansScheduler.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No OrleansScheduler.sln above {AppContext.BaseDirectory}.");
    }
}
