using System.Diagnostics;
using OrleansScheduler.EndToEnd.Tests.Cluster;
using OrleansScheduler.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Workers;

/// <summary>docs/workers.md's tiny Python worker (docs/examples/tiny_worker.py), run as it is with
/// python3 against a real server: it completes a task with its command's stdout, fails one whose
/// command exits non-zero, shows its system_info, and on SIGTERM deregisters, handing its running
/// task back without counting the attempt. Without python3 the test skips, except under CI.</summary>
public sealed class PythonWorkerTests(ITestOutputHelper log) : WorkerProcessTest(log)
{
    private const string Command = """if [ "$TASK_TYPE" = py-fail ]; then echo "no such input" >&2; exit 3; fi; if [ "$TASK_TYPE" = py-slow ]; then sleep 60; fi; cat""";

    [SkippableFact]
    public async Task The_python_example_completes_fails_and_hands_back_on_sigterm()
    {
        var python = RequirePython();
        await StartServerAsync(new Dictionary<string, string>());
        var script = Path.Combine(RepoRoot(), "docs", "examples", "tiny_worker.py");
        var worker = Track(WorkerProcess.Program("py-1", python, [script], new Dictionary<string, string>
        {
            ["SCHEDULER_URL"] = Server.BaseAddress.ToString(),
            ["WORKER_ID"] = "py-1",
            ["CAPABILITIES"] = "py-echo,py-fail,py-slow",
            ["TASK_COMMAND"] = Command,
            ["PYTHONUNBUFFERED"] = "1",
        }));
        await worker.WaitForLineAsync("registered", l => l.Contains("py-1 registered", StringComparison.Ordinal), Patience);

        await Api.SubmitAsync("/api/tasks", new { id = "py-echo-1", type = "py-echo", payload = new { n = 7 } });
        var echoed = await Poll.UntilAsync(
            "py-echo-1 is COMPLETED",
            () => Api.GetAsync("/api/tasks/py-echo-1"),
            t => (string?)t["status"] == "COMPLETED",
            t => $"{t.ToJsonString()}\n{Diagnostics()}",
            Patience);
        Assert.Equal("py-1", (string?)echoed["worker_id"]);
        Assert.Equal(7, (int)echoed["result"]!["n"]!);

        await Api.SubmitAsync("/api/tasks", new { id = "py-fail-1", type = "py-fail", max_attempts = 1, payload = new { } });
        var failed = await Poll.UntilAsync(
            "py-fail-1 is FAILED",
            () => Api.GetAsync("/api/tasks/py-fail-1"),
            t => (string?)t["status"] == "FAILED",
            t => $"{t.ToJsonString()}\n{Diagnostics()}",
            Patience);
        Assert.Equal("exit code 3: no such input\n", (string?)failed["error"]);

        var listed = await Poll.UntilAsync(
            "py-1 has sent its system_info",
            () => Api.GetAsync("/api/workers/py-1"),
            w => w["system_info"] is not null,
            w => w.ToJsonString(),
            Patience);
        Assert.InRange((double)listed["system_info"]!["memory_usage"]!, 0, 100);

        await Api.SubmitAsync("/api/tasks", new { id = "py-slow-1", type = "py-slow", payload = new { } });
        await worker.WaitForLineAsync("leasing py-slow-1", l => l.Contains("leased py-slow-1", StringComparison.Ordinal), Patience);
        worker.Terminate();
        await worker.WaitForLineAsync("deregistered", l => l.Contains("deregistered: 200", StringComparison.Ordinal), Patience);
        Assert.Equal(0, await worker.WaitForExitAsync(Patience));
        Assert.Contains("py-slow-1", worker.Lines.Single(l => l.Contains("deregistered: 200", StringComparison.Ordinal)), StringComparison.Ordinal);

        var handedBack = await Api.GetAsync("/api/tasks/py-slow-1");
        Assert.Equal("QUEUED", (string?)handedBack["status"]);
        Assert.Equal(0, (int)handedBack["attempts"]!);
    }

    private static string RequirePython()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "python3");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        const string Why = "python3 is not on PATH: the Python worker example's test needs it (`apt-get install -y python3`)";
        if (TestPostgres.UnderCi)
        {
            throw new InvalidOperationException($"{Why}. Under CI it must run, not skip.");
        }

        Skip.If(true, Why);
        throw new UnreachableException();
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
