using System.Globalization;

namespace OrleansScheduler.Worker;

/// <summary>The heartbeat's system_info, real figures of the machine: CPU busy % of all cores since
/// the previous reading (from /proc/stat), memory in use % ((MemTotal - MemAvailable) / MemTotal from
/// /proc/meminfo) and the used % (as df counts it) of the filesystem holding <paramref name="directory"/>. Off Linux
/// (no /proc), memory comes from the GC's view of the machine and CPU is left out (null) rather
/// than made up.</summary>
internal sealed class SystemInfoReader(string directory, string procRoot = "/proc")
{
    private CpuSample? _previous = ReadCpu(procRoot);

    public SystemInfo Read()
    {
        double? cpu = null;
        if (ReadCpu(procRoot) is { } now)
        {
            if (_previous is { } before && now.Total > before.Total)
            {
                var busy = (now.Total - now.Idle) - (before.Total - before.Idle);
                cpu = Percent(busy, now.Total - before.Total);
            }

            _previous = now;
        }

        return new SystemInfo(cpu, Memory(procRoot), Disk(directory));
    }

    internal static double? Memory(string procRoot)
    {
        var path = Path.Combine(procRoot, "meminfo");
        if (File.Exists(path))
        {
            long? total = null, available = null;
            foreach (var line in File.ReadLines(path))
            {
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                {
                    total = Kilobytes(line);
                }
                else if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    available = Kilobytes(line);
                }

                if (total is not null && available is not null)
                {
                    return Percent(total.Value - available.Value, total.Value);
                }
            }

            return null;
        }

        var gc = GC.GetGCMemoryInfo();
        return gc.TotalAvailableMemoryBytes > 0 ? Percent(gc.MemoryLoadBytes, gc.TotalAvailableMemoryBytes) : null;
    }

    internal static double? Disk(string directory)
    {
        try
        {
            // As df's Use%: used over what users can have (used + available), so blocks reserved for
            // root count as neither; a disk reported 100 % is one a worker can no longer write to.
            var drive = new DriveInfo(Path.GetFullPath(directory));
            var used = drive.TotalSize - drive.TotalFreeSpace;
            var usable = used + drive.AvailableFreeSpace;
            return usable > 0 ? Percent(used, usable) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The first line of /proc/stat: "cpu user nice system idle iowait irq softirq steal
    /// guest guest_nice" in clock ticks. guest and guest_nice are already inside user and nice, so
    /// the total stops at steal; idle time is idle + iowait.</summary>
    internal static CpuSample? ReadCpu(string procRoot)
    {
        var path = Path.Combine(procRoot, "stat");
        if (!File.Exists(path))
        {
            return null;
        }

        using var reader = new StreamReader(path);
        var line = reader.ReadLine();
        if (line is null || !line.StartsWith("cpu ", StringComparison.Ordinal))
        {
            return null;
        }

        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long total = 0;
        long idle = 0;
        for (var i = 1; i < fields.Length && i <= 8; i++)
        {
            var ticks = long.Parse(fields[i], NumberStyles.None, CultureInfo.InvariantCulture);
            total += ticks;
            if (i is 4 or 5)
            {
                idle += ticks;
            }
        }

        return new CpuSample(total, idle);
    }

    private static long Kilobytes(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], NumberStyles.None, CultureInfo.InvariantCulture);

    private static double Percent(double part, double whole) => Math.Round(Math.Clamp(part / whole * 100, 0, 100), 1);

    internal readonly record struct CpuSample(long Total, long Idle);
}

/// <summary>Percentages 0..100; null where the platform gives no figure.</summary>
internal sealed record SystemInfo(double? CpuUsage, double? MemoryUsage, double? DiskUsage);
