using System.Runtime.InteropServices;
using OrleansScheduler.Worker;

// The reference external worker of issue 11: see docs/workers.md.
WorkerOptions options;
try
{
    options = WorkerOptions.Parse(args, Environment.GetEnvironmentVariable, $"{Environment.MachineName}-{Environment.ProcessId}");
}
catch (WorkerOptionsException ex)
{
    await Console.Error.WriteLineAsync($"error: {ex.Message}{Environment.NewLine}{Environment.NewLine}{WorkerOptions.Usage}");
    return 2;
}

if (options.Help)
{
    Console.WriteLine(WorkerOptions.Usage);
    return 0;
}

var log = new WorkerLog(Console.Out);
using var shutdown = new CancellationTokenSource();
void Stop(PosixSignalContext context)
{
    // Handled here: the worker stops leasing, kills its commands and deregisters, then exits 0.
    context.Cancel = true;
    log.Line($"{context.Signal}: stopping");
    _ = Task.Run(shutdown.Cancel);
}

using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

var simulated = options.SimulatedCapabilities.ToList();
if (simulated.Count > 0)
{
    log.Line($"warning: no --command for {string.Join(", ", simulated)}: their tasks run the simulator (payload {{\"duration_ms\": n}})");
}

int code;
using (var worker = new WorkerService(options, log, TimeProvider.System))
{
    code = await worker.RunAsync(shutdown.Token);
}

await log.CloseAsync();
return code;
