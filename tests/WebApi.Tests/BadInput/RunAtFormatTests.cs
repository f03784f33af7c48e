using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.BadInput;

/// <summary>Issue 12: run_at is an RFC 3339 time, as the README says. DateTimeOffset.TryParse took
/// "01/02/2099" (stored SCHEDULED) and "10:00" (QUEUED) and anything else the culture reads.</summary>
public sealed class RunAtFormatTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Theory]
    [InlineData("01/02/2099")]
    [InlineData("10:00")]
    [InlineData("2099-01-09")]
    [InlineData("2099-01-09 10:00:00")]
    [InlineData("2099-01-09T10:00")]
    [InlineData("2099-01-09T10:00:00+0200")]
    [InlineData("2099-1-9T10:00:00Z")]
    [InlineData("2099-02-30T10:00:00Z")]
    [InlineData("2099-01-09T24:00:00Z")]
    [InlineData("2099-01-09T10:00:60Z")]
    [InlineData("2099-01-09T10:00:00.Z")]
    [InlineData("2099-01-09T10:00:00+24:00")]
    [InlineData("0000-01-01T00:00:00Z")]
    [InlineData("0001-01-01T00:00:00+01:00")]
    [InlineData("9999-12-31T23:59:59-01:00")]
    [InlineData(" 2099-01-09T10:00:00Z")]
    [InlineData("Thu, 09 Jan 2030 10:00:00 GMT")]
    [InlineData("")]
    public async Task A_run_at_that_is_not_RFC_3339_is_400_naming_it_and_stores_nothing(string runAt)
    {
        using var api = app.Api();
        var before = await api.TotalAsync();
        var errorsBefore = app.Logs.Errors.Count;

        using var response = await api.PostJsonAsync("/api/tasks", new { id = "not-rfc3339", type = "t", run_at = runAt });

        var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "run_at");
        Assert.Contains("RFC 3339", problem["errors"]!["run_at"]![0]!.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, await api.TotalAsync());
        using var get = await api.Http.GetAsync(new Uri("/api/tasks/not-rfc3339", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Empty(app.Logs.ErrorsSince(errorsBefore));
    }

    [Theory]
    [InlineData("2099-01-09T10:00:00", "2099-01-09T10:00:00.000Z")]      // seed 003: no offset is UTC
    [InlineData("2099-01-09T10:00:00Z", "2099-01-09T10:00:00.000Z")]
    [InlineData("2099-01-09t10:00:00z", "2099-01-09T10:00:00.000Z")]     // RFC 3339 allows lower case
    [InlineData("2099-01-09T12:00:00.5+02:00", "2099-01-09T10:00:00.500Z")]
    [InlineData("2099-01-09T05:30:00.123456789-04:30", "2099-01-09T10:00:00.123Z")]
    [InlineData("2099-01-10T09:59:00+23:59", "2099-01-09T10:00:00.000Z")] // beyond DateTimeOffset's ±14 h
    [InlineData("2096-02-29T10:00:00Z", "2096-02-29T10:00:00.000Z")]
    public async Task An_RFC_3339_run_at_is_stored_as_that_instant(string runAt, string stored)
    {
        using var api = app.Api();
        var id = "rfc3339-" + Guid.NewGuid().ToString("N");

        var created = await api.SubmitAsync(new { id, type = "t", run_at = runAt });

        Assert.Equal("SCHEDULED", (string)created["status"]!);
        Assert.Equal(stored, (string)(await api.GetTaskAsync(id))["run_at"]!);
    }

    [Fact]
    public async Task A_run_at_in_a_batch_is_checked_too()
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var response = await api.PostJsonAsync("/api/tasks/batch", new JsonArray(
            new JsonObject { ["id"] = "batch-rfc-ok", ["type"] = "t", ["run_at"] = "2099-01-09T10:00:00Z" },
            new JsonObject { ["id"] = "batch-rfc-bad", ["type"] = "t", ["run_at"] = "01/02/2099" }).ToJsonString());

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "tasks[1].run_at");
        Assert.Equal(before, await api.TotalAsync());
    }
}
