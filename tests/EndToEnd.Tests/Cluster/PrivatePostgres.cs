using System.Diagnostics;
using System.Globalization;

namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>A PostgreSQL server of one test's own (initdb in a temp folder, a free port on
/// 127.0.0.1), for a test that stops and starts its server: restarting the shared server of
/// ORLEANS_TEST_POSTGRES would cut off every other PostgreSQL test running meanwhile, in this
/// assembly or another (`dotnet test` runs the test projects in parallel). Uses the binaries
/// .ci/postgres.sh installed (ORLEANS_PG_BIN, else the newest /usr/lib/postgresql/*/bin); as root,
/// runs them as the postgres user. Stopped (immediately) and deleted on dispose.</summary>
public sealed class PrivatePostgres : IDisposable
{
    private readonly string _bin;
    private readonly string _data;
    private readonly bool _asRoot;

    private PrivatePostgres(string bin, string data, int port, bool asRoot)
    {
        _bin = bin;
        _data = data;
        Port = port;
        _asRoot = asRoot;
    }

    public int Port { get; }

    /// <summary>The superuser's connection string (trust authentication on loopback).</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres";

    public bool IsRunning => Run("pg_ctl", "-D", _data, "status").Exit == 0;

    /// <summary>The binaries' folder, or null when PostgreSQL is not installed here.</summary>
    public static string? FindBin()
    {
        if (Environment.GetEnvironmentVariable("ORLEANS_PG_BIN") is { Length: > 0 } bin && File.Exists(Path.Combine(bin, "pg_ctl")))
        {
            return bin;
        }

        const string Root = "/usr/lib/postgresql";
        return Directory.Exists(Root)
            ? Directory.GetDirectories(Root)
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "pg_ctl")) && File.Exists(Path.Combine(d, "initdb")))
                .OrderBy(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0)
                .LastOrDefault()
            : null;
    }

    /// <summary>initdb and start a server in <paramref name="folder"/>/pg on a free port.</summary>
    public static PrivatePostgres Start(string bin, string folder, int port)
    {
        var asRoot = Environment.UserName == "root";
        var data = Path.Combine(folder, "pg");
        var server = new PrivatePostgres(bin, data, port, asRoot);
        if (asRoot)
        {
            Check(Exec("install", ["-d", "-o", "postgres", "-g", "postgres", "-m", "700", data]), "install -d");
        }
        else
        {
            Directory.CreateDirectory(data);
        }

        try
        {
            Check(server.Run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"), "initdb");
            server.StartServer();
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>pg_ctl start, waiting until it accepts connections.</summary>
    public void StartServer() =>
        Check(Run("pg_ctl", "-D", _data, "-l", Path.Combine(_data, "server.log"), "-w", "-t", "60",
            "-o", $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={_data} -c max_connections=200",
            "start"), "pg_ctl start");

    /// <summary>pg_ctl stop -m fast: clients are disconnected, open transactions rolled back.</summary>
    public void StopServer() => Check(Run("pg_ctl", "-D", _data, "-m", "fast", "-w", "-t", "60", "stop"), "pg_ctl stop");

    /// <summary>pg_ctl restart -m fast: a stop that disconnects every client, then a start; returns
    /// once the server accepts connections again.</summary>
    public void RestartServer() =>
        Check(Run("pg_ctl", "-D", _data, "-l", Path.Combine(_data, "server.log"), "-m", "fast", "-w", "-t", "60",
            "-o", $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={_data} -c max_connections=200",
            "restart"), "pg_ctl restart");

    /// <summary>The postmaster's process id (postmaster.pid), to tell that a restart happened.</summary>
    public string? PostmasterPid()
    {
        var file = Path.Combine(_data, "postmaster.pid");
        return File.Exists(file) ? File.ReadLines(file).FirstOrDefault() : null;
    }

    /// <summary>The server's log, last lines, for failure messages.</summary>
    public string Log(int lines = 40)
    {
        var file = Path.Combine(_data, "server.log");
        var text = File.Exists(file) ? File.ReadAllLines(file).TakeLast(lines) : ["(no server.log)"];
        return $"--- private PostgreSQL log (last {lines} lines) ---{Environment.NewLine}{string.Join(Environment.NewLine, text)}";
    }

    public void Dispose()
    {
        if (IsRunning)
        {
            Run("pg_ctl", "-D", _data, "-m", "immediate", "-w", "stop");
        }
    }

    private (int Exit, string Output) Run(string tool, params string[] args)
    {
        var path = Path.Combine(_bin, tool);
        return _asRoot ? Exec("runuser", ["-u", "postgres", "--", path, .. args]) : Exec(path, args);
    }

    private static (int Exit, string Output) Exec(string file, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, $"{file} {string.Join(' ', start.ArgumentList)}: exit {process.ExitCode}\n{stdout.Result}{stderr.Result}");
    }

    private static void Check((int Exit, string Output) result, string what)
    {
        if (result.Exit != 0)
        {
            throw new InvalidOperationException($"{what} failed: {result.Output}");
        }
    }
}
