using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace OrleansScheduler.Worker.Tests;

/// <summary>The worker program as a real process: exit code 2 and a message for a bad command line,
/// and SIGTERM while the server is unreachable ends it cleanly with 0.</summary>
public sealed class ProgramTests
{
    [Fact]
    public async Task A_bad_option_exits_with_code_2_and_says_which()
    {
        var (code, output, error) = await RunAsync(["--capabilities", "a", "--max-concurrent", "zero"], TimeSpan.FromSeconds(30));

        Assert.Equal(2, code);
        Assert.Contains("--max-concurrent 'zero' must be a whole number from 1 to 1000", error, StringComparison.Ordinal);
        Assert.Contains("Usage:", error, StringComparison.Ordinal);
        Assert.Equal("", output);
    }

    [Fact]
    public async Task Sigterm_while_the_server_is_unreachable_exits_0()
    {
        // A port nobody listens on: the worker keeps retrying its registration until the signal.
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        using var process = Start(["--capabilities", "simulate", "--server", $"http://127.0.0.1:{port}"]);
        var lines = new List<string>();
        var retrying = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lock (lines)
                {
                    lines.Add(line);
                }

                if (line.Contains("register failed, retrying", StringComparison.Ordinal))
                {
                    retrying.TrySetResult();
                }
            }
        };
        process.BeginOutputReadLine();
        await retrying.Task.WaitAsync(TimeSpan.FromSeconds(30));

        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        process.WaitForExit(); // and its output read to the end
        lock (lines)
        {
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}\n{string.Join('\n', lines)}");
            Assert.Contains(lines, l => l.EndsWith("SIGTERM: stopping", StringComparison.Ordinal));
        }
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(string[] args, TimeSpan timeout)
    {
        using var process = Start(args);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(timeout);
        return (process.ExitCode, await output, await error);
    }

    private static Process Start(string[] args)
    {
        var dll = Path.Combine(Path.GetDirectoryName(typeof(ProgramTests).Assembly.Location)!, "OrleansScheduler.Worker.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("SCHEDULER_API_KEY");
        return Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
    }
}
