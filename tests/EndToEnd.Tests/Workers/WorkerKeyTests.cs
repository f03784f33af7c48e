using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Workers;

/// <summary>The reference worker against a server with API keys: without a key its registration is
/// refused for good (401), so it says why and exits with code 2 instead of retrying forever; with
/// an operate key (--api-key or SCHEDULER_API_KEY) it registers and runs tasks.</summary>
public sealed class WorkerKeyTests(ITestOutputHelper log) : WorkerProcessTest(log)
{
    private const string OperateKey = "e2e-operate-key-0123456789abcdef";

    [Fact]
    public async Task Without_a_key_the_worker_exits_2_and_with_one_it_runs_tasks()
    {
        await StartServerAsync(new Dictionary<string, string> { ["API_KEYS"] = $"{OperateKey}:operate" });

        var keyless = Track(Support.WorkerProcess.Reference("keyless", Server.BaseAddress, "--capabilities", WorkType));
        var code = await keyless.WaitForExitAsync(Patience);
        Assert.True(code == 2, $"exit code {code}\n{keyless.Output()}");
        Assert.Contains(keyless.Lines, l => l.Contains("register refused: HTTP 401", StringComparison.Ordinal));

        await StartWorkerAsync("keyed", "--capabilities", WorkType, "--api-key", OperateKey);
        Api.Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", OperateKey);
        await Api.SubmitAsync("/api/tasks", new { id = "keyed-1", type = WorkType, payload = new { duration_ms = 10 } });
        var done = await WaitAllCompletedAsync(["keyed-1"]);
        Assert.Equal("keyed", (string?)done[0]["worker_id"]);
    }
}
