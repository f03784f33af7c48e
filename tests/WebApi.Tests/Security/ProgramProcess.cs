using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace OrleansScheduler.WebApi.Tests.Security;

/// <summary>The real program, `dotnet OrleansScheduler.WebApi.dll` from this test's output folder
/// (the project reference puts it and its appsettings.json there), with only the environment the
/// test gives it among the settings that matter here. Killed on dispose.</summary>
public sealed class ProgramProcess : IDisposable
{
    private readonly ConcurrentQueue<string> _output = new();
    private readonly Process _process;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "orleans-scheduler-tests", Guid.NewGuid().ToString("N"));

    public ProgramProcess(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        Directory.CreateDirectory(_folder);
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = _folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(WebApiDll());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in start.Environment.Keys.Where(k => k is "API_KEYS" or "RATE_LIMIT_SUBMITS_PER_SECOND" or "PORT" or "ASPNETCORE_URLS" or "DOTNET_URLS" or "URLS" or "ASPNETCORE_HTTP_PORTS" or "SILO_ID"
                     || k.StartsWith("Api__", StringComparison.OrdinalIgnoreCase) || k.StartsWith("Kestrel__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DATABASE_URL"] = Path.Combine(_folder, "scheduler.db");
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Record(e.Data);
        _process.ErrorDataReceived += (_, e) => Record(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output => string.Join(Environment.NewLine, _output);

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>A TCP port nobody listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Waits for the process to end by itself.</summary>
    public async Task<bool> ExitsWithinAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temp cleanup if a file is still held.
        }
    }

    private void Record(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }

    /// <summary>The WebApi as its own build left it, beside its own appsettings.json. Not the copy
    /// in this test's output folder: src/Silo's appsettings.json lands there too, and which of the
    /// two wins depends on the build order (CI once got the silo's, which hides "Now listening").</summary>
    private static string WebApiDll()
    {
        var configuration = typeof(ProgramProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansScheduler.sln")))
            {
                var dll = Path.Combine(dir.FullName, "src", "WebApi", "bin", configuration, "net10.0", "OrleansScheduler.WebApi.dll");
                return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is not built: build src/WebApi ({configuration}) first.");
            }
        }

        throw new InvalidOperationException($"No OrleansScheduler.sln above {AppContext.BaseDirectory}.");
    }
}
