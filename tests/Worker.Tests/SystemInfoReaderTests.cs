using System.Diagnostics;
using System.Globalization;

namespace OrleansScheduler.Worker.Tests;

/// <summary>The heartbeat's system_info read from this machine's /proc and filesystem, checked
/// against what the kernel and df say, and the arithmetic on known /proc contents.</summary>
public sealed class SystemInfoReaderTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("worker-proc-").FullName;

    [Fact]
    public void Memory_is_the_share_of_memtotal_not_available_in_procs_meminfo()
    {
        File.WriteAllText(Path.Combine(_folder, "meminfo"), """
            MemTotal:       16000000 kB
            MemFree:         1000000 kB
            MemAvailable:   12000000 kB
            Buffers:          100000 kB
            """);

        Assert.Equal(25.0, SystemInfoReader.Memory(_folder));
    }

    [Fact]
    public void Cpu_is_busy_ticks_over_all_ticks_between_two_readings_of_proc_stat()
    {
        // user nice system idle iowait irq softirq steal guest guest_nice
        var stat = Path.Combine(_folder, "stat");
        File.WriteAllText(stat, "cpu  100 0 100 700 100 0 0 0 50 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n");
        var reader = new SystemInfoReader(_folder, _folder);
        // 400 more ticks: 100 user, 50 system, 200 idle, 50 iowait (guest is inside user: not added).
        File.WriteAllText(stat, "cpu  200 0 150 900 150 0 0 0 90 0\n");

        Assert.Equal(37.5, reader.Read().CpuUsage);
    }

    [Fact]
    public void The_real_machine_gives_memory_within_a_point_of_procs_own_figures()
    {
        var reading = new SystemInfoReader(Environment.CurrentDirectory).Read().MemoryUsage;

        var meminfo = File.ReadAllLines("/proc/meminfo").ToDictionary(l => l.Split(':')[0], l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture));
        var expected = (meminfo["MemTotal"] - meminfo["MemAvailable"]) / meminfo["MemTotal"] * 100;
        Assert.NotNull(reading);
        Assert.InRange(reading.Value, expected - 1, expected + 1);
    }

    [Fact]
    public void The_real_machine_gives_the_disk_use_df_gives_for_the_working_directory()
    {
        var reading = SystemInfoReader.Disk(_folder);

        // df's Use% is used / (used + available) rounded up; others may write in between.
        var df = Run("df", "-P", _folder).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var used = double.Parse(df[2], CultureInfo.InvariantCulture);
        var expected = used / (used + double.Parse(df[3], CultureInfo.InvariantCulture)) * 100;
        Assert.NotNull(reading);
        Assert.InRange(reading.Value, expected - 0.5, expected + 0.5);
    }

    [Fact]
    public async Task The_real_machine_shows_cpu_use_while_a_core_is_kept_busy()
    {
        var reader = new SystemInfoReader(Environment.CurrentDirectory);
        using var busy = new CancellationTokenSource();
        var spin = Task.Run(() =>
        {
            while (!busy.IsCancellationRequested)
            {
                Thread.SpinWait(1000);
            }
        });
        try
        {
            // One core of this machine's spinning is at least 100 / cores percent of all of them.
            var floor = 100.0 / Environment.ProcessorCount * 0.5;
            var cpu = await Poll.UntilAsync(
                $"the CPU reading is over {floor:0} %",
                () => Task.FromResult(reader.Read().CpuUsage),
                c => c > floor,
                c => $"{c}",
                TimeSpan.FromSeconds(10));
            Assert.InRange(cpu!.Value, floor, 100);
        }
        finally
        {
            await busy.CancelAsync();
            await spin;
        }
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
    }
}
