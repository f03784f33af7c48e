using System.Net;
using System.Text;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.BadInput;

/// <summary>Found by the property tests of issue 12: a task of 19,000 unknown fields (260 KB) was
/// answered with an 8 MB problem, a reason and a line of detail per field. A problem names at most
/// 100 fields, says how many it left out, and echoes no field name longer than 200 characters.</summary>
public sealed class ProblemSizeTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task Thousands_of_unknown_fields_get_a_problem_of_100_of_them()
    {
        using var api = app.Api();
        var before = await api.TotalAsync();
        var json = new StringBuilder("""{"id": "many-fields", "type": "t" """);
        for (var i = 0; i < 20_000; i++)
        {
            json.Append($", \"x{i}\": {i}");
        }

        using var response = await api.PostJsonAsync("/api/tasks", json.Append('}').ToString());

        var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "x0");
        Assert.Equal(100, problem["errors"]!.AsObject().Count);
        Assert.Equal(20_000 - 100, (int)problem["errors_not_shown"]!);
        Assert.True(problem.ToJsonString().Length < 64 * 1024, $"a problem of {problem.ToJsonString().Length:N0} characters");
        Assert.Equal(before, await api.TotalAsync());
    }

    [Fact]
    public async Task A_long_unknown_field_name_is_echoed_cut_short()
    {
        using var api = app.Api();
        var name = new string('n', 500_000);

        using var response = await api.PostJsonAsync("/api/tasks", $$"""{"id": "long-name", "type": "t", "{{name}}": 1}""");

        var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest);
        var field = Assert.Single(problem["errors"]!.AsObject()).Key;
        Assert.StartsWith(new string('n', 200) + "...", field, StringComparison.Ordinal);
        Assert.True(problem.ToJsonString().Length < 64 * 1024, $"a problem of {problem.ToJsonString().Length:N0} characters");
    }
}
