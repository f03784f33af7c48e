using System.Net;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Properties;

/// <summary>The real WebApi on its own SQLite file, seen only through HTTP and its log, so the
/// properties keep guarding the API whatever stores the tasks. It knows which task ids the API has
/// acknowledged: the properties' model of what is stored. A batch limit of 50 tasks lets the
/// generators cross it cheaply.</summary>
public sealed class PropertyApp : SchedulerApp
{
    public const int MaxBatchTasks = 50;

    private readonly SemaphoreSlim _started = new(1, 1);
    private Api? _api;

    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Api:MaxBatchTasks"] = MaxBatchTasks.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>How often each answer came ("201", "400 run_at", "413 body"), to print what a run tried.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, int> Answers { get; } = new(StringComparer.Ordinal);

    /// <summary>The answers counted since the last call, most frequent first.</summary>
    public string TakeAnswers()
    {
        var text = string.Join(", ", Answers.OrderByDescending(a => a.Value).ThenBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}: {a.Value}"));
        Answers.Clear();
        return text;
    }

    /// <summary>Every id the API answered 2xx for: what must be stored, and nothing else.</summary>
    public HashSet<string> Ids { get; } = new(StringComparer.Ordinal);

    /// <summary>The client, once the base tasks (targets for dependencies and duplicate ids) exist.</summary>
    public async Task<Api> StartAsync()
    {
        await _started.WaitAsync();
        try
        {
            if (_api is null)
            {
                _api = Api();
                _api.Http.Timeout = TimeSpan.FromMinutes(2);
                for (var i = 0; i < TaskGen.BaseTasks; i++)
                {
                    var created = await _api.SubmitAsync(new { id = TaskGen.BaseId(i), type = "base" });
                    Ids.Add((string)created["id"]!);
                }
            }

            return _api;
        }
        finally
        {
            _started.Release();
        }
    }

    /// <summary>Lists every task through the API and compares the ids with <see cref="Ids"/>.</summary>
    public async Task AssertStoredIdsAsync()
    {
        var api = await StartAsync();
        var listed = (await api.ListAllAsync()).Select(t => (string)t["id"]!).ToList();
        var extra = listed.Except(Ids).ToList();
        var missing = Ids.Except(listed).ToList();
        Assert.True(extra.Count == 0 && missing.Count == 0 && listed.Count == Ids.Count,
            $"the store holds ids no 2xx answered: [{string.Join(", ", extra.Take(20))}]; acknowledged but missing: [{string.Join(", ", missing.Take(20))}]; listed {listed.Count}, acknowledged {Ids.Count}");
    }

    public async Task<HttpStatusCode> StatusOfAsync(string id)
    {
        var api = await StartAsync();
        using var response = await api.Http.GetAsync(new Uri($"/api/tasks/{Uri.EscapeDataString(id)}", UriKind.Relative));
        return response.StatusCode;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _api?.Dispose();
            _started.Dispose();
        }

        base.Dispose(disposing);
    }
}
