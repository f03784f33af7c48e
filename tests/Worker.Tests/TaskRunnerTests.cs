using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace OrleansScheduler.Worker.Tests;

/// <summary>The command runner on the real /bin/sh: the payload on stdin, the task's variables in
/// the environment, stdout as the result, exit codes and stderr as the failure, and a stop that
/// kills the whole process tree.</summary>
public sealed class TaskRunnerTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("worker-runner-").FullName;

    [Fact]
    public async Task The_payload_is_stdin_and_json_stdout_is_the_result()
    {
        // jq-free: sed turns {"n": 20} into {"doubled_from": 20, ...} and adds the task's variables.
        var outcome = await TaskRunner.RunCommandAsync(
            "read line; n=$(echo \"$line\" | sed 's/[^0-9]//g'); printf '{\"n\": %s, \"id\": \"%s\", \"type\": \"%s\", \"attempt\": %s}\\n' \"$n\" \"$TASK_ID\" \"$TASK_TYPE\" \"$TASK_ATTEMPT\"",
            Task("t-42", "processing", """{"n": 20}""", attempt: 3),
            CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        using var result = JsonDocument.Parse(outcome.ResultJson!);
        Assert.Equal(20, result.RootElement.GetProperty("n").GetInt32());
        Assert.Equal("t-42", result.RootElement.GetProperty("id").GetString());
        Assert.Equal("processing", result.RootElement.GetProperty("type").GetString());
        Assert.Equal(3, result.RootElement.GetProperty("attempt").GetInt32());
    }

    [Fact]
    public async Task Stdout_that_is_not_json_is_the_trimmed_text_as_a_json_string_and_blank_stdout_is_no_result()
    {
        var text = await TaskRunner.RunCommandAsync("echo '  hello \"world\"  '", Task("t1", "x", "null"), CancellationToken.None);
        Assert.True(text.Succeeded, text.Error);
        Assert.Equal("hello \"world\"", JsonSerializer.Deserialize<string>(text.ResultJson!));

        var blank = await TaskRunner.RunCommandAsync("cat > /dev/null", Task("t2", "x", """{"a": 1}"""), CancellationToken.None);
        Assert.True(blank.Succeeded, blank.Error);
        Assert.Null(blank.ResultJson);
    }

    [Fact]
    public async Task A_command_that_exits_non_zero_fails_with_its_code_and_the_tail_of_stderr()
    {
        var outcome = await TaskRunner.RunCommandAsync("echo first >&2; echo 'disk full' >&2; exit 7", Task("t1", "x", "{}"), CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Equal("exit code 7: first\ndisk full", outcome.Error);
    }

    [Fact]
    public async Task A_chatty_stderr_is_cut_to_its_last_2_kb()
    {
        // 10,000 lines of stderr; the error keeps the end, where the cause usually is.
        var outcome = await TaskRunner.RunCommandAsync(
            "i=0; while [ $i -lt 10000 ]; do echo \"line $i\" >&2; i=$((i+1)); done; echo 'the real cause' >&2; exit 1",
            Task("t1", "x", "{}"),
            CancellationToken.None);

        Assert.False(outcome.Succeeded);
        var tail = outcome.Error!["exit code 1: ".Length..];
        Assert.EndsWith("line 9999\nthe real cause", tail, StringComparison.Ordinal);
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(tail), 2000, TaskRunner.StderrTailBytes);
    }

    [Fact]
    public async Task A_command_that_ignores_its_stdin_still_runs()
    {
        // A large payload the command never reads: writing it must not fail or hang the run.
        var payload = JsonSerializer.Serialize(new { data = new string('x', 1_000_000) });
        var outcome = await TaskRunner.RunCommandAsync("echo 5", Task("t1", "x", payload), CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal("5", outcome.ResultJson);
    }

    [Fact]
    public async Task Stopping_a_run_kills_its_process_tree()
    {
        // The shell starts a grandchild (sleep) and waits: killing only the shell would leave it.
        var pidFile = Path.Combine(_folder, "sleep.pid");
        using var stop = new CancellationTokenSource();
        var run = TaskRunner.RunCommandAsync($"sleep 300 & echo $! > {pidFile}; wait", Task("t1", "x", "{}"), stop.Token);
        var pid = await Poll.UntilAsync(
            "the command wrote its child's pid",
            () => System.Threading.Tasks.Task.FromResult(File.Exists(pidFile) ? File.ReadAllText(pidFile).Trim() : ""),
            text => text.Length > 0,
            text => $"'{text}'");
        var sleepPid = int.Parse(pid, CultureInfo.InvariantCulture);
        Assert.True(IsAlive(sleepPid));

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        await Poll.UntilAsync("the grandchild sleep is gone", () => System.Threading.Tasks.Task.FromResult(IsAlive(sleepPid)), alive => !alive, alive => $"pid {sleepPid} alive: {alive}");
    }

    [Fact]
    public async Task The_simulator_waits_the_payloads_duration_and_says_so()
    {
        var clock = Stopwatch.StartNew();
        var outcome = await TaskRunner.SimulateAsync(Payload("""{"duration_ms": 150}"""), TimeProvider.System, CancellationToken.None);

        Assert.True(clock.ElapsedMilliseconds >= 140, $"returned after {clock.ElapsedMilliseconds} ms");
        Assert.Equal("""{"simulated_ms":150}""", outcome.ResultJson);

        Assert.Equal("""{"simulated_ms":0}""", (await TaskRunner.SimulateAsync(Payload("null"), TimeProvider.System, CancellationToken.None)).ResultJson);
        Assert.Equal("""{"simulated_ms":0}""", (await TaskRunner.SimulateAsync(Payload("""{"other": 1}"""), TimeProvider.System, CancellationToken.None)).ResultJson);
        Assert.Equal("""{"simulated_ms":0}""", (await TaskRunner.SimulateAsync(default, TimeProvider.System, CancellationToken.None)).ResultJson);
    }

    [Theory]
    [InlineData("""{"duration_ms": -1}""")]
    [InlineData("""{"duration_ms": "10"}""")]
    [InlineData("""{"duration_ms": 1.5}""")]
    public async Task The_simulator_fails_a_duration_that_is_not_a_whole_number_of_milliseconds(string payload)
    {
        var outcome = await TaskRunner.SimulateAsync(Payload(payload), TimeProvider.System, CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Contains("payload.duration_ms", outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_type_with_a_command_runs_it_and_any_other_type_is_simulated()
    {
        var runner = new TaskRunner(new Dictionary<string, string> { ["shell"] = "echo '{\"ran\": true}'" }, TimeProvider.System);

        Assert.Equal("{\"ran\": true}", (await runner.RunAsync(Task("t1", "shell", "{}"), CancellationToken.None)).ResultJson);
        Assert.Equal("""{"simulated_ms":1}""", (await runner.RunAsync(Task("t2", "simulate", """{"duration_ms": 1}"""), CancellationToken.None)).ResultJson);
        Assert.Equal("""{"simulated_ms":0}""", (await runner.RunAsync(Task("t3", "analysis", "null"), CancellationToken.None)).ResultJson);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static LeasedTask Task(string id, string type, string payload, int attempt = 1) =>
        new(id, type, Payload(payload), attempt, 3, null, "token-1");

    private static JsonElement Payload(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    private static bool IsAlive(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal);
}
