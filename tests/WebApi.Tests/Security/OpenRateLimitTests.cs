using System.Net;
using System.Text;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Security;

/// <summary>Without keys the limit is per client address; on loopback it is off unless set.</summary>
public sealed class OpenRateLimitTests
{
    private sealed class LimitedWithoutKeys : SchedulerApp
    {
        protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string> { ["Api:SubmitsPerSecond"] = "1" };
    }

    [Fact]
    public async Task Without_keys_the_client_address_is_limited_when_a_limit_is_set()
    {
        using var app = new LimitedWithoutKeys();
        var statuses = await BurstAsync(app, 20);
        Assert.Contains(HttpStatusCode.Created, statuses);
        Assert.True(statuses.Count(s => s == HttpStatusCode.TooManyRequests) >= 15, string.Join(", ", statuses));
    }

    [Fact]
    public async Task On_loopback_without_a_setting_nothing_is_limited()
    {
        using var app = new SchedulerApp();
        var statuses = await BurstAsync(app, 100);
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Created, s));
    }

    private static async Task<HttpStatusCode[]> BurstAsync(SchedulerApp app, int count)
    {
        using var client = app.CreateClient();
        var responses = await Task.WhenAll(Enumerable.Range(0, count).Select(_ =>
            client.PostAsync(new Uri("/api/tasks", UriKind.Relative), new StringContent("""{"type":"burst"}""", Encoding.UTF8, "application/json"))));
        var statuses = responses.Select(r => r.StatusCode).ToArray();
        foreach (var response in responses)
        {
            response.Dispose();
        }

        return statuses;
    }
}
