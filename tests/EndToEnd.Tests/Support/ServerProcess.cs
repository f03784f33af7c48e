using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace OrleansScheduler.EndToEnd.Tests.Support;

/// <summary>The real server as a child process: `dotnet OrleansScheduler.WebApi.dll` from the WebApi
/// build output of this test's configuration, with PORT and DATABASE_URL set, working in a temp
/// folder. Captures stdout and stderr for failure messages; killed on dispose whatever happened.</summary>
public sealed class ServerProcess : IDisposable
{
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;
    private int _generation;

    public ServerProcess(string workingDirectory, string databasePath, int port)
    {
        WorkingDirectory = workingDirectory;
        DatabasePath = databasePath;
        Port = port;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public string WorkingDirectory { get; }

    public string DatabasePath { get; }

    public int Port { get; }

    public Uri BaseAddress { get; }

    public bool IsRunning => _process is { HasExited: false };

    public static string WebApiDll
    {
        get
        {
            var configuration = typeof(ServerProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            var dll = Path.Combine(RepoRoot(), "src", "WebApi", "bin", configuration, "net10.0", "OrleansScheduler.WebApi.dll");
            return File.Exists(dll)
                ? dll
                : throw new InvalidOperationException($"{dll} does not exist; build src/WebApi in {configuration} first (building this test project does).");
        }
    }

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
            throw new InvalidOperationException("The server is already running.");
        }

        var generation = Interlocked.Increment(ref _generation);
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = WorkingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(WebApiDll);
        // Settings the test does not choose must not leak in from the environment running the tests.
        foreach (var name in new[] { "ASPNETCORE_URLS", "DOTNET_URLS", "URLS", "ASPNETCORE_HTTP_PORTS", "MAX_CONCURRENT_TASKS", "SILO_ID" })
        {
            start.Environment.Remove(name);
        }

        start.Environment["PORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["DATABASE_URL"] = DatabasePath;
        start.Environment["LOG_LEVEL"] = "info";
        // The scheduler's own lines, not one per HTTP request (appsettings.json is not in the
        // temp working directory, so its "Microsoft.AspNetCore": "Warning" does not apply).
        start.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";

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
        _output.Enqueue($"[{generation} started pid {process.Id}: dotnet {WebApiDll} PORT={Port} DATABASE_URL={DatabasePath}]");
    }

    /// <summary>SIGKILL on Linux (Process.Kill sends it): no shutdown code runs, nothing is flushed
    /// or handed back. Returns once the process is gone.</summary>
    public void KillHard()
    {
        var process = _process ?? throw new InvalidOperationException("The server was never started.");
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
        _output.Enqueue($"[killed pid {process.Id}, exit code {process.ExitCode}]");
        process.Dispose();
        _process = null;
    }

    /// <summary>The last lines the server wrote, for failure messages.</summary>
    public string Output(int lines = 80) =>
        $"--- server output (last {lines} lines) ---{Environment.NewLine}{string.Join(Environment.NewLine, _output.TakeLast(lines))}";

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

    private void Record(int generation, string stream, string? line)
    {
        if (line is not null)
        {
            _output.Enqueue($"[{generation} {stream}] {line}");
        }
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
