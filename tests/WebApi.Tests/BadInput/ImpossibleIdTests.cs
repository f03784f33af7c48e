using System.Net;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.BadInput;

/// <summary>Found by the property tests of issue 12 against the Orleans core: an id in the path that
/// no task can have (here a blank one) reached the store's key lookup, and Orleans' GetGrain throws
/// on a blank key, so GET /api/tasks/%20 was a 500. Such an id is a 404 naming it, on every route
/// that takes one, whatever stores the tasks.</summary>
public sealed class ImpossibleIdTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var id in new[] { "%20", "%20%20%09", "bad%20id", "%C3%A9", "%FF", new string('x', 129) })
        {
            data.Add("GET", $"/api/tasks/{id}");
            data.Add("GET", $"/tasks/{id}/events");
            data.Add("POST", $"/api/tasks/{id}/cancel");
            data.Add("POST", $"/tasks/{id}/retry");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task An_id_no_task_can_have_is_404_naming_it(string method, string path)
    {
        using var api = app.Api();
        var errorsBefore = app.Logs.Errors.Count;

        using var response = await api.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative)));

        var problem = await Problem.AssertAsync(response, HttpStatusCode.NotFound);
        Assert.NotNull(problem["id"]);
        Assert.Empty(app.Logs.ErrorsSince(errorsBefore));
    }
}
