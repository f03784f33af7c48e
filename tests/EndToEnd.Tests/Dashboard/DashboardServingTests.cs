using System.Net;
using System.Text.RegularExpressions;

namespace OrleansScheduler.EndToEnd.Tests.Dashboard;

/// <summary>What the server sends for the dashboard, without a browser: these run everywhere.</summary>
[Collection(DashboardCollection.Name)]
public sealed partial class DashboardServingTests(DashboardServer app)
{
    [Fact]
    public async Task The_root_redirects_to_the_dashboard()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = app.Server.BaseAddress };

        using var response = await http.GetAsync(new Uri("/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/dashboard", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task The_dashboard_and_its_files_are_served_and_need_nothing_from_elsewhere()
    {
        var (status, html) = await app.Api.TryGetAsync("/dashboard");
        Assert.Equal(200, status);
        var assets = AssetReference().Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.Contains("/dashboard/dashboard.js", assets);
        Assert.Contains("/dashboard/dashboard.css", assets);
        Assert.Contains("/dashboard/favicon.svg", assets);

        foreach (var (path, text) in new[] { ("/dashboard", html) }.Concat(await Task.WhenAll(assets.Select(async a => (a, await GetAsync(a))))))
        {
            // An SVG's xmlns names its namespace; nothing is fetched from it.
            var checkedText = text.Replace("xmlns=\"http://www.w3.org/2000/svg\"", "", StringComparison.Ordinal);
            Assert.False(ExternalUrl().IsMatch(checkedText), $"{path} refers to another host: {ExternalUrl().Match(checkedText).Value}");
        }

        using var page = await app.Api.Http.GetAsync(new Uri("/dashboard", UriKind.Relative));
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("script-src 'self'", string.Join(" ", page.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
        Assert.Equal(404, (await app.Api.TryGetAsync("/dashboard/no-such-file.js")).Status);
    }

    [Fact]
    public async Task Swagger_stays_at_docs()
    {
        var (status, body) = await app.Api.TryGetAsync("/docs/index.html");

        Assert.Equal(200, status);
        Assert.Contains("swagger-ui", body, StringComparison.Ordinal);
    }

    private async Task<string> GetAsync(string path)
    {
        var (status, body) = await app.Api.TryGetAsync(path);
        Assert.True(status == 200, $"GET {path} answered {status}");
        return body;
    }

    [GeneratedRegex("(?:src|href)=\"(/dashboard/[^\"]+)\"")]
    private static partial Regex AssetReference();

    [GeneratedRegex("(?:https?:)?//[a-z0-9.-]+\\.[a-z]{2,}", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalUrl();
}
