using System.Globalization;
using System.Text.RegularExpressions;

namespace OrleansScheduler.Worker;

/// <summary>The command line of the reference worker, parsed and checked: a bad option is a
/// <see cref="WorkerOptionsException"/> whose message names it (the program prints it and exits
/// with code 2).</summary>
internal sealed partial record WorkerOptions
{
    public const int MaxConcurrentDefault = 4;
    public const int MaxLeaseDefault = 64;
    public const string ServerDefault = "http://127.0.0.1:8000";
    public const string ApiKeyVariable = "SCHEDULER_API_KEY";

    public const string Usage = """
        Usage: OrleansScheduler.Worker --capabilities TYPE[,TYPE...] [options]

          --worker-id ID          this worker's id (default: <hostname>-<pid>)
          --capabilities LIST     task types it runs, comma-separated (required)
          --server URL            the scheduler (default: http://127.0.0.1:8000)
          --max-concurrent N      tasks run at once, 1..1000 (default: 4)
          --command TYPE=COMMAND  run tasks of TYPE with `/bin/sh -c COMMAND` (repeatable); the
                                  payload JSON is its stdin, stdout its result; a capability
                                  without a command (and `simulate`) runs the simulator
          --api-key KEY           bearer key with the operate role (default: $SCHEDULER_API_KEY)
          --max-lease N           most tasks asked for per lease call, 1..1000 (default: 64)
          --help                  this text
        """;

    public required string WorkerId { get; init; }

    public required IReadOnlyList<string> Capabilities { get; init; }

    public required Uri Server { get; init; }

    public int MaxConcurrent { get; init; } = MaxConcurrentDefault;

    public int MaxLease { get; init; } = MaxLeaseDefault;

    /// <summary>Shell command per task type (ordinal, case-sensitive like the server's types).</summary>
    public required IReadOnlyDictionary<string, string> Commands { get; init; }

    public string? ApiKey { get; init; }

    public bool Help { get; init; }

    /// <summary>Parses <paramref name="args"/>; <paramref name="environment"/> supplies the API key's
    /// fallback and <paramref name="defaultWorkerId"/> the id when none is given.</summary>
    public static WorkerOptions Parse(IReadOnlyList<string> args, Func<string, string?> environment, string defaultWorkerId)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        string? workerId = null, capabilities = null, server = null, maxConcurrent = null, maxLease = null, apiKey = null;
        var commands = new Dictionary<string, string>(StringComparer.Ordinal);
        var help = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "--help" or "-h")
            {
                help = true;
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new WorkerOptionsException($"unexpected argument '{arg}'");
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg : arg[..equals];
            string Value()
            {
                if (equals >= 0)
                {
                    return arg[(equals + 1)..];
                }

                if (i + 1 >= args.Count)
                {
                    throw new WorkerOptionsException($"{name} needs a value");
                }

                return args[++i];
            }

            switch (name)
            {
                case "--worker-id": workerId = Value(); break;
                case "--capabilities": capabilities = Value(); break;
                case "--server": server = Value(); break;
                case "--max-concurrent": maxConcurrent = Value(); break;
                case "--max-lease": maxLease = Value(); break;
                case "--api-key": apiKey = Value(); break;
                case "--command": AddCommand(commands, Value()); break;
                default: throw new WorkerOptionsException($"unknown option '{name}'");
            }
        }

        if (help)
        {
            return new WorkerOptions { WorkerId = "", Capabilities = [], Server = new Uri(ServerDefault), Commands = commands, Help = true };
        }

        workerId ??= defaultWorkerId;
        if (!WorkerIdPattern().IsMatch(workerId))
        {
            throw new WorkerOptionsException($"--worker-id '{workerId}' must be 1-128 letters, digits, '-', '_', '.' or ':'");
        }

        if (capabilities is null)
        {
            throw new WorkerOptionsException("--capabilities is required (a comma-separated list of task types)");
        }

        var types = capabilities.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToList();
        if (types.Count is 0 or > 100 || types.Any(t => t.Length > 200))
        {
            throw new WorkerOptionsException("--capabilities must list 1 to 100 task types of at most 200 characters each");
        }

        foreach (var type in commands.Keys.Where(t => !types.Contains(t, StringComparer.Ordinal)))
        {
            throw new WorkerOptionsException($"--command {type}=...: '{type}' is not in --capabilities");
        }

        server ??= ServerDefault;
        if (!Uri.TryCreate(server, UriKind.Absolute, out var serverUri) || serverUri.Scheme is not ("http" or "https"))
        {
            throw new WorkerOptionsException($"--server '{server}' must be an absolute http:// or https:// URL");
        }

        apiKey ??= environment(ApiKeyVariable);
        return new WorkerOptions
        {
            WorkerId = workerId,
            Capabilities = types,
            Server = serverUri,
            MaxConcurrent = maxConcurrent is null ? MaxConcurrentDefault : Count("--max-concurrent", maxConcurrent),
            MaxLease = maxLease is null ? MaxLeaseDefault : Count("--max-lease", maxLease),
            Commands = commands,
            ApiKey = string.IsNullOrWhiteSpace(apiKey) ? null : apiKey.Trim(),
        };
    }

    /// <summary>Capabilities that have no --command and are not `simulate`: run by the simulator,
    /// which the program warns about once at start.</summary>
    public IEnumerable<string> SimulatedCapabilities =>
        Capabilities.Where(t => !Commands.ContainsKey(t) && !string.Equals(t, TaskRunner.SimulateType, StringComparison.Ordinal));

    private static void AddCommand(Dictionary<string, string> commands, string value)
    {
        var equals = value.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0 || string.IsNullOrWhiteSpace(value[(equals + 1)..]))
        {
            throw new WorkerOptionsException($"--command '{value}' must be TYPE=SHELLCOMMAND");
        }

        var type = value[..equals].Trim();
        if (!commands.TryAdd(type, value[(equals + 1)..]))
        {
            throw new WorkerOptionsException($"--command for type '{type}' is given twice");
        }
    }

    private static int Count(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 1000
            ? n
            : throw new WorkerOptionsException($"{name} '{value}' must be a whole number from 1 to 1000");

    [GeneratedRegex("^[A-Za-z0-9_.:-]{1,128}$")]
    private static partial Regex WorkerIdPattern();
}
