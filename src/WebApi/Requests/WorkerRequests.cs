using System.Text.Json;
using OrleansScheduler.Grains.Dag;

namespace OrleansScheduler.WebApi.Requests;

/// <summary>The bodies of the external workers' requests (issue 11), read strictly as the task API
/// reads its own: an unknown or repeated field, a wrong type or a value out of range is a 400 naming
/// the field, and nothing is done.</summary>
public static class WorkerRequests
{
    /// <summary>Reads a request from its body (null: no body); false with the errors when it is bad.</summary>
    public delegate bool Parser<T>(JsonElement? body, Dictionary<string, List<string>> errors, out T request);

    /// <summary>A complete or fail report: the lease token and the outcome.</summary>
    public readonly record struct Report(long LeaseToken, WorkerOutcome Outcome);

    /// <summary>A lease request.</summary>
    public readonly record struct LeaseAsk(int MaxTasks, int WaitMs);
    public const int MaxCapabilities = 100;
    public const int MaxConcurrentTasksLimit = 1000;
    public const int MaxTasksPerLease = 1000;
    public const int MaxCurrentTasks = 1000;
    public const int MaxStatusLength = 64;
    public const int MaxSystemInfoBytes = 4096;
    public const int MaxErrorLength = 64 * 1024;

    /// <summary>The usage figures of system_info that must be percentages when given.</summary>
    private static readonly string[] Usages = ["cpu_usage", "memory_usage", "disk_usage"];

    public static bool Register(JsonElement? body, Dictionary<string, List<string>> errors, out WorkerRegistration request)
    {
        request = null!;
        var fields = Fields(body, errors, "worker_id", "capabilities", "max_concurrent_tasks", "system_info");
        if (fields is null)
        {
            return false;
        }

        string? workerId = null;
        if (!fields.TryGetValue("worker_id", out var id))
        {
            Add(errors, "worker_id", "is required");
        }
        else if (id.ValueKind != JsonValueKind.String)
        {
            Add(errors, "worker_id", "must be a string");
        }
        else if (!TaskSpecValidator.IsValidId(id.GetString(), out var reason))
        {
            Add(errors, "worker_id", reason);
        }
        else
        {
            workerId = id.GetString();
        }

        var capabilities = new List<string>();
        if (!fields.TryGetValue("capabilities", out var list))
        {
            Add(errors, "capabilities", "is required: the task types this worker runs, e.g. [\"processing\", \"analysis\"]");
        }
        else if (list.ValueKind != JsonValueKind.Array)
        {
            Add(errors, "capabilities", "must be an array of task types");
        }
        else if (list.GetArrayLength() is 0 or > MaxCapabilities)
        {
            Add(errors, "capabilities", $"must hold from 1 to {MaxCapabilities} task types, not {list.GetArrayLength()}");
        }
        else
        {
            var i = 0;
            foreach (var item in list.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(item.GetString()))
                {
                    Add(errors, $"capabilities[{i}]", "must be a non-empty string (a task type)");
                }
                else if (item.GetString()!.Length > TaskSpecValidator.MaxTypeLength)
                {
                    Add(errors, $"capabilities[{i}]", $"must be at most {TaskSpecValidator.MaxTypeLength} characters");
                }
                else if (!capabilities.Contains(item.GetString()!, StringComparer.Ordinal))
                {
                    capabilities.Add(item.GetString()!);
                }

                i++;
            }
        }

        var maxConcurrent = Int(fields, "max_concurrent_tasks", 1, MaxConcurrentTasksLimit, fallback: 1, errors);
        var systemInfo = SystemInfo(fields, errors);
        request = new WorkerRegistration(workerId ?? "", capabilities, maxConcurrent, systemInfo);
        return errors.Count == 0;
    }

    public static bool Heartbeat(JsonElement? body, Dictionary<string, List<string>> errors, out WorkerHeartbeat request)
    {
        request = null!;
        var fields = Fields(body, errors, "status", "current_tasks", "system_info");
        if (fields is null)
        {
            return false;
        }

        string? status = null;
        if (fields.TryGetValue("status", out var statusValue) && statusValue.ValueKind != JsonValueKind.Null)
        {
            if (statusValue.ValueKind != JsonValueKind.String || statusValue.GetString()!.Length is 0 or > MaxStatusLength)
            {
                Add(errors, "status", $"must be a string of 1 to {MaxStatusLength} characters, e.g. \"active\"");
            }
            else
            {
                status = statusValue.GetString();
            }
        }

        List<string>? current = null;
        if (fields.TryGetValue("current_tasks", out var tasks) && tasks.ValueKind != JsonValueKind.Null)
        {
            if (tasks.ValueKind != JsonValueKind.Array)
            {
                Add(errors, "current_tasks", "must be an array of the task ids this worker runs");
            }
            else if (tasks.GetArrayLength() > MaxCurrentTasks)
            {
                Add(errors, "current_tasks", $"must hold at most {MaxCurrentTasks} task ids, not {tasks.GetArrayLength()}");
            }
            else
            {
                current = [];
                var i = 0;
                foreach (var item in tasks.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String || !TaskSpecValidator.IsValidId(item.GetString(), out _))
                    {
                        Add(errors, $"current_tasks[{i}]", "must be a task id (a string)");
                    }
                    else
                    {
                        current.Add(item.GetString()!);
                    }

                    i++;
                }
            }
        }

        var systemInfo = SystemInfo(fields, errors);
        request = new WorkerHeartbeat(status, current, systemInfo);
        return errors.Count == 0;
    }

    /// <summary>A lease request; no body takes the defaults (one task, no wait).</summary>
    public static bool Lease(JsonElement? body, Dictionary<string, List<string>> errors, out LeaseAsk request)
    {
        request = new LeaseAsk(1, 0);
        if (body is null)
        {
            return true;
        }

        var fields = Fields(body, errors, "max_tasks", "wait_ms");
        if (fields is null)
        {
            return false;
        }

        var maxTasks = Int(fields, "max_tasks", 1, MaxTasksPerLease, fallback: 1, errors);
        var waitMs = Int(fields, "wait_ms", 0, (int)Grains.Workers.WorkerOptions.MaxWait.TotalMilliseconds, fallback: 0, errors);
        request = new LeaseAsk(maxTasks, waitMs);
        return errors.Count == 0;
    }

    /// <summary>A complete (<paramref name="succeeded"/>) or fail report.</summary>
    public static bool TryReport(JsonElement? body, bool succeeded, Dictionary<string, List<string>> errors, out Report request)
    {
        request = default;
        var fields = succeeded ? Fields(body, errors, "lease_token", "result") : Fields(body, errors, "lease_token", "error");
        if (fields is null)
        {
            return false;
        }

        long token = 0;
        if (!fields.TryGetValue("lease_token", out var tokenValue))
        {
            Add(errors, "lease_token", "is required: the lease_token the task was leased with");
        }
        else if (!(tokenValue.ValueKind == JsonValueKind.String && long.TryParse(tokenValue.GetString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out token)
                   || tokenValue.ValueKind == JsonValueKind.Number && tokenValue.TryGetInt64(out token)) || token <= 0)
        {
            Add(errors, "lease_token", "is not a lease token this scheduler issued (a string of digits, as the lease answered it)");
        }

        string? result = null;
        string? error = null;
        if (succeeded)
        {
            if (fields.TryGetValue("result", out var resultValue) && resultValue.ValueKind != JsonValueKind.Null)
            {
                result = resultValue.GetRawText();
            }
        }
        else if (fields.TryGetValue("error", out var errorValue) && errorValue.ValueKind != JsonValueKind.Null)
        {
            if (errorValue.ValueKind != JsonValueKind.String)
            {
                Add(errors, "error", "must be a string saying why the attempt failed");
            }
            else if (errorValue.GetString()!.Length > MaxErrorLength)
            {
                Add(errors, "error", $"must be at most {MaxErrorLength:N0} characters");
            }
            else
            {
                error = errorValue.GetString();
            }
        }

        if (!succeeded)
        {
            error = string.IsNullOrWhiteSpace(error) ? "failed (the worker gave no error)" : error;
        }

        request = new Report(token, new WorkerOutcome(result, error));
        return errors.Count == 0;
    }

    /// <summary>The body's fields by name: null (with the errors) when it is not an object, or has
    /// an unknown, repeated or unreadable field.</summary>
    private static Dictionary<string, JsonElement>? Fields(JsonElement? element, Dictionary<string, List<string>> errors, params string[] known)
    {
        if (element is not { ValueKind: JsonValueKind.Object } body)
        {
            Add(errors, "body", "must be a JSON object");
            return null;
        }

        if (JsonText.FindUnreadable(body, "") is { } unreadable)
        {
            Add(errors, unreadable.Field, unreadable.Reason);
            return null;
        }

        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in body.EnumerateObject())
        {
            if (!known.Contains(property.Name, StringComparer.Ordinal))
            {
                Add(errors, property.Name, $"is not a known field; the fields are {string.Join(", ", known)}");
            }
            else if (!fields.TryAdd(property.Name, property.Value))
            {
                Add(errors, property.Name, "appears more than once");
            }
        }

        return errors.Count == 0 ? fields : null;
    }

    private static int Int(Dictionary<string, JsonElement> fields, string name, int min, int max, int fallback, Dictionary<string, List<string>> errors)
    {
        if (!fields.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return fallback;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && number >= min && number <= max)
        {
            return number;
        }

        Add(errors, name, $"must be an integer from {min} to {max}");
        return fallback;
    }

    /// <summary>system_info as JSON text: an object whose usage figures, when given, are percentages.</summary>
    private static string? SystemInfo(Dictionary<string, JsonElement> fields, Dictionary<string, List<string>> errors)
    {
        if (!fields.TryGetValue("system_info", out var info) || info.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (info.ValueKind != JsonValueKind.Object)
        {
            Add(errors, "system_info", "must be an object, e.g. {\"cpu_usage\": 45.2, \"memory_usage\": 67.8, \"disk_usage\": 23.1}");
            return null;
        }

        var text = info.GetRawText();
        if (text.Length > MaxSystemInfoBytes)
        {
            Add(errors, "system_info", $"must be at most {MaxSystemInfoBytes:N0} characters of JSON");
            return null;
        }

        foreach (var usage in Usages)
        {
            if (info.TryGetProperty(usage, out var figure) && figure.ValueKind != JsonValueKind.Null
                && !(figure.ValueKind == JsonValueKind.Number && figure.GetDouble() is >= 0 and <= 100))
            {
                Add(errors, $"system_info.{usage}", "must be a percentage, a number from 0 to 100");
            }
        }

        return text;
    }

    private static void Add(Dictionary<string, List<string>> errors, string field, string reason)
    {
        if (!errors.TryGetValue(field, out var reasons))
        {
            errors[field] = reasons = [];
        }

        reasons.Add(reason);
    }
}
