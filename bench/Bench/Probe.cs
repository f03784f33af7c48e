using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OrleansScheduler.Bench;

/// <summary>Cheap profiling without dotnet-trace: CPU time per thread from /proc, so a run shows
/// whether one thread (the SQLite writer) or the whole machine is the limit.</summary>
public sealed class ThreadCpu
{
    private static readonly double TicksPerSecond = 100.0; // USER_HZ on Linux
    private readonly Dictionary<int, (string Name, long Ticks)> _before;
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly TimeSpan _processBefore;
    private readonly int _pid;

    public ThreadCpu(int pid = 0)
    {
        _pid = pid == 0 ? Environment.ProcessId : pid;
        _before = Sample(_pid);
        _processBefore = ProcessCpu(_pid);
    }

    public static TimeSpan ProcessCpu(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.TotalProcessorTime;
        }
        catch (ArgumentException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>Process CPU over the interval as cores busy, and the busiest threads as a share of one core.</summary>
    public (double Cores, string Top) Finish(int top = 4)
    {
        var wall = Rig.Ms(_started, Stopwatch.GetTimestamp()) / 1000.0;
        var cpu = (ProcessCpu(_pid) - _processBefore).TotalSeconds;
        var after = Sample(_pid);
        var busiest = after
            .Select(a => (a.Value.Name, Share: (a.Value.Ticks - (_before.TryGetValue(a.Key, out var b) ? b.Ticks : 0)) / TicksPerSecond / wall))
            .OrderByDescending(t => t.Share)
            .Take(top)
            .Select(t => $"{t.Name.Trim()} {t.Share * 100:F0}%");
        return (wall <= 0 ? 0 : cpu / wall, string.Join(", ", busiest));
    }

    private static Dictionary<int, (string Name, long Ticks)> Sample(int pid)
    {
        var result = new Dictionary<int, (string Name, long Ticks)>();
        try
        {
            foreach (var dir in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var close = stat.LastIndexOf(')');
                    var name = stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..close];
                    var fields = stat[(close + 2)..].Split(' ');
                    var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                    result[int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture)] = (name, ticks);
                }
                catch (IOException)
                {
                    // The thread ended between listing and reading.
                }
            }
        }
        catch (IOException)
        {
        }

        return result;
    }

    /// <summary>VmHWM / VmRSS of a process in MB, from /proc/pid/status.</summary>
    public static double MemoryMb(int pid, string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }
}

/// <summary>A built OrleansScheduler process (the WebApi, the Silo or the reference Worker) started as a child, with its
/// output kept for diagnosis and killed (by its own handle) when disposed.</summary>
public sealed class Child : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private Child(Process process)
    {
        _process = process;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The Release build of src/&lt;project&gt; (bench builds it, as it references src/WebApi).</summary>
    public static string Dll(string project)
    {
        var root = Report.RepoRoot();
        foreach (var configuration in new[] { "Release", "Debug" })
        {
            var path = Path.Combine(root, "src", project, "bin", configuration, "net10.0", $"OrleansScheduler.{project}.dll");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException($"OrleansScheduler.{project}.dll is not built; run `dotnet build -c Release src/{project}` first");
    }

    public static Child Start(string project, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var dll = Dll(project);
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        info.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
        var child = new Child(process);
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Waits for GET url to answer 200.</summary>
    public async Task WaitReadyAsync(string url, TimeSpan timeout)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"child exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var response = await client.GetAsync(new Uri(url));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"{url} not ready after {timeout.TotalSeconds} s:\n{Output}");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length > 200_000)
            {
                _output.Remove(0, 100_000);
            }

            _output.AppendLine(line);
        }
    }
}
