using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace OrleansScheduler.EndToEnd.Tests.Support;

/// <summary>A real external worker as a child process: the reference worker
/// (`dotnet OrleansScheduler.Worker.dll ARGS`) or any other program (the Python example), with its
/// stdout and stderr captured line by line for the tests' checks and failure messages. SIGKILL,
/// SIGSTOP/SIGCONT and SIGTERM as a test needs them; killed on dispose whatever happened.</summary>
public sealed class WorkerProcess : IDisposable
{
    private readonly ConcurrentQueue<string> _output = new();
    private readonly Process _process;

    private WorkerProcess(string name, ProcessStartInfo start)
    {
        Name = name;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.Environment.Remove("SCHEDULER_API_KEY");
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Record("out", e.Data);
        _process.ErrorDataReceived += (_, e) => Record("err", e.Data);
        _process.Exited += (_, _) => _output.Enqueue("[exited]");
        if (!_process.Start())
        {
            throw new InvalidOperationException($"{name} did not start.");
        }

        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _output.Enqueue($"[started pid {_process.Id}: {start.FileName} {string.Join(' ', start.ArgumentList)}]");
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>The lines it wrote so far, without the test's stamps.</summary>
    public IReadOnlyList<string> Lines => _output.Where(l => l.StartsWith("out ", StringComparison.Ordinal) || l.StartsWith("err ", StringComparison.Ordinal)).Select(l => l[4..]).ToList();

    public static string WorkerDll => ServerProcess.BuiltDll("Worker");

    /// <summary>The reference worker with <paramref name="arguments"/> (--worker-id is
    /// <paramref name="name"/>), against <paramref name="server"/>.</summary>
    public static WorkerProcess Reference(string name, Uri server, params string[] arguments)
    {
        ArgumentNullException.ThrowIfNull(server);
        var start = new ProcessStartInfo("dotnet");
        foreach (var argument in new[] { WorkerDll, "--worker-id", name, "--server", server.ToString() }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        return new WorkerProcess(name, start);
    }

    /// <summary>Any program as a worker, e.g. python3 with the example's environment.</summary>
    public static WorkerProcess Program(string name, string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(environment);
        var start = new ProcessStartInfo(file);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return new WorkerProcess(name, start);
    }

    /// <summary>Waits until a line it wrote satisfies <paramref name="match"/>; fails with its output
    /// if it does not within <paramref name="timeout"/> (or exits first).</summary>
    public async Task<string> WaitForLineAsync(string what, Func<string, bool> match, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(match);
        var state = await Poll.UntilAsync(
            $"{Name} logs {what}",
            () => Task.FromResult((Line: Lines.FirstOrDefault(match), Exited: HasExited)),
            state => state.Line is not null || state.Exited,
            _ => Output(),
            timeout);
        if (state.Line is null)
        {
            // Exited: its last lines may still be on their way from the pipe.
            _process.WaitForExit();
        }

        return state.Line ?? Lines.FirstOrDefault(match) ?? throw new Xunit.Sdk.XunitException($"{Name} exited before it logged {what}\n{Output()}");
    }

    /// <summary>Waits until the process exited and its output was read to the end; its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        // The parameterless wait returns once the redirected streams reached their end too.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>SIGKILL (its process tree): no deregistration, nothing reported.</summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _output.Enqueue($"[killed, exit code {_process.ExitCode}]");
    }

    public void Pause() => Signal("STOP");

    public void Resume() => Signal("CONT");

    /// <summary>SIGTERM: the worker's clean shutdown.</summary>
    public void Terminate() => Signal("TERM");

    public string Output(int lines = 80) =>
        $"--- {Name} output (last {lines} lines) ---{Environment.NewLine}{string.Join(Environment.NewLine, _output.TakeLast(lines))}";

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
    }

    private void Signal(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { $"-{signal}", Pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })
            ?? throw new InvalidOperationException("kill did not start.");
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {Pid} exited with {kill.ExitCode}.");
        }

        _output.Enqueue($"[SIG{signal} sent at {DateTime.UtcNow:HH:mm:ss.fff}]");
    }

    private void Record(string stream, string? line)
    {
        if (line is not null)
        {
            _output.Enqueue($"{stream} {line}");
        }
    }
}
