using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OrleansScheduler.Worker;

/// <summary>Runs one leased task: with its type's shell command (`/bin/sh -c COMMAND`, the payload
/// JSON on stdin, TASK_ID / TASK_TYPE / TASK_ATTEMPT in the environment; exit 0 completes with
/// stdout as the result, any other exit fails with the code and the tail of stderr), or with the
/// simulator (payload {"duration_ms": n}: waits n ms, result {"simulated_ms": n}). Cancelling the
/// token kills the command's process tree and throws <see cref="OperationCanceledException"/>.</summary>
internal sealed class TaskRunner(IReadOnlyDictionary<string, string> commands, TimeProvider time)
{
    public const string SimulateType = "simulate";

    /// <summary>The most of stderr a failure's error carries (UTF-8 bytes).</summary>
    public const int StderrTailBytes = 2048;

    public static readonly string Shell = "/bin/sh";

    public Task<TaskOutcome> RunAsync(LeasedTask task, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(task);
        return commands.TryGetValue(task.Type, out var command)
            ? RunCommandAsync(command, task, cancellation)
            : SimulateAsync(task.Payload, time, cancellation);
    }

    public static async Task<TaskOutcome> SimulateAsync(JsonElement payload, TimeProvider time, CancellationToken cancellation)
    {
        long duration = 0;
        if (payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("duration_ms", out var value) && value.ValueKind != JsonValueKind.Null)
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out duration) || duration < 0)
            {
                return TaskOutcome.Failed($"payload.duration_ms must be a whole number of milliseconds >= 0, not {value.GetRawText()}");
            }
        }

        if (duration > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(duration), time, cancellation).ConfigureAwait(false);
        }

        return TaskOutcome.Completed(string.Create(CultureInfo.InvariantCulture, $"{{\"simulated_ms\":{duration}}}"));
    }

    public static async Task<TaskOutcome> RunCommandAsync(string command, LeasedTask task, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(task);
        var start = new ProcessStartInfo(Shell)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        start.Environment["TASK_ID"] = task.Id;
        start.Environment["TASK_TYPE"] = task.Type;
        start.Environment["TASK_ATTEMPT"] = task.Attempt.ToString(CultureInfo.InvariantCulture);

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return TaskOutcome.Failed($"could not start {Shell}: {ex.Message}");
        }

        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = TailAsync(process.StandardError);
            await WriteStdinAsync(process, task.Payload).ConfigureAwait(false);
            await process.WaitForExitAsync(cancellation).ConfigureAwait(false);
            var output = await stdout.ConfigureAwait(false);
            var errors = await stderr.ConfigureAwait(false);
            return process.ExitCode == 0
                ? TaskOutcome.Completed(ResultJson(output))
                : TaskOutcome.Failed(errors.Length == 0 ? $"exit code {process.ExitCode}" : $"exit code {process.ExitCode}: {errors}");
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            throw;
        }
    }

    /// <summary>stdout as the result: JSON as it is, other text as a JSON string of the trimmed
    /// text, nothing (blank) as no result.</summary>
    internal static string? ResultJson(string stdout)
    {
        var text = stdout.Trim();
        if (text.Length == 0)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            return text;
        }
        catch (JsonException)
        {
            return JsonSerializer.Serialize(text);
        }
    }

    private static async Task WriteStdinAsync(Process process, JsonElement payload)
    {
        try
        {
            var input = process.StandardInput;
            await input.WriteAsync(payload.ValueKind == JsonValueKind.Undefined ? "null" : payload.GetRawText()).ConfigureAwait(false);
            input.Close();
        }
        catch (IOException)
        {
            // The command exited (or closed stdin) without reading its payload: not an error of ours.
        }
    }

    /// <summary>Reads a stream to its end keeping only its last <see cref="StderrTailBytes"/> bytes
    /// (whole characters), trimmed, so a chatty command cannot grow the worker's memory.</summary>
    internal static async Task<string> TailAsync(TextReader reader)
    {
        var tail = new StringBuilder();
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer.AsMemory()).ConfigureAwait(false)) > 0)
        {
            tail.Append(buffer, 0, read);
            if (tail.Length > 4 * StderrTailBytes)
            {
                tail.Remove(0, tail.Length - StderrTailBytes);
            }
        }

        var text = tail.ToString().Trim();
        var start = Math.Max(0, text.Length - StderrTailBytes);
        while (Encoding.UTF8.GetByteCount(text.AsSpan(start)) > StderrTailBytes)
        {
            start++;
        }

        if (start > 0 && start < text.Length && char.IsLowSurrogate(text[start]))
        {
            start++;
        }

        return text[start..];
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }
}
