using System.Net;
using System.Net.Http.Headers;
using System.Text;
using OrleansScheduler.WebApi.Security;

namespace OrleansScheduler.WebApi.Tests.Security;

/// <summary>Issue 10, point 6: with no keys configured the server listens on loopback only, and
/// binding beyond it refuses to start with a message that says what to set. The real program is
/// started as a process.</summary>
public sealed class LoopbackRuleTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("ASPNETCORE_URLS", "http://0.0.0.0:{port}")]
    [InlineData("ASPNETCORE_URLS", "http://+:{port}")]
    [InlineData("Kestrel__Endpoints__Http__Url", "http://[::]:{port}")]
    public async Task Without_keys_a_non_loopback_binding_refuses_to_start_and_says_what_to_set(string variable, string url)
    {
        var port = ProgramProcess.FreePort();
        var bound = url.Replace("{port}", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        using var program = new ProgramProcess(new Dictionary<string, string> { [variable] = bound });

        Assert.True(await program.ExitsWithinAsync(StartTimeout), $"the program did not stop:\n{program.Output}");
        Assert.Equal(1, program.ExitCode); // a refusal, not an unhandled exception's abort (134)
        var output = program.Output;
        Assert.Contains("Refusing to start", output, StringComparison.Ordinal);
        Assert.Contains(bound, output, StringComparison.Ordinal);
        Assert.Contains("API_KEYS=", output, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", output, StringComparison.Ordinal);
    }

    /// <summary>The same binding with one key configured starts, refuses an unauthenticated submit
    /// and accepts an authenticated one (issue 10's "done when").</summary>
    [Fact]
    public async Task With_a_key_a_non_loopback_binding_starts_and_requires_the_key()
    {
        const string Key = "process-key-7d1f0c2b9e8a4d6f5b3c1a0e9d8c7b6a";
        var port = ProgramProcess.FreePort();
        using var program = new ProgramProcess(new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://0.0.0.0:{port}",
            ["API_KEYS"] = $"{Key}:operate",
        });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        await WaitHealthyAsync(http, program);

        using var anonymous = await http.PostAsync(new Uri("/api/tasks", UriKind.Relative), Json("""{"id":"anonymous","type":"x"}"""));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/tasks") { Content = Json("""{"id":"keyed","type":"x"}""") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        using var keyed = await http.SendAsync(request);
        Assert.True(keyed.StatusCode == HttpStatusCode.Created, $"{(int)keyed.StatusCode}: {await keyed.Content.ReadAsStringAsync()}");
        Assert.DoesNotContain(Key, program.Output, StringComparison.Ordinal);
    }

    /// <summary>The default (PORT only, no keys) listens on 127.0.0.1 and starts.</summary>
    [Fact]
    public async Task Without_keys_the_default_binding_is_loopback_and_starts()
    {
        var port = ProgramProcess.FreePort();
        using var program = new ProgramProcess(new Dictionary<string, string> { ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        await WaitHealthyAsync(http, program);

        // The console logger writes from a queue of its own: on a loaded machine the line may reach
        // stdout a moment after the server answers.
        var listening = $"Now listening on: http://127.0.0.1:{port}";
        await Poll.UntilAsync("the program says where it listens", () => Task.FromResult(program.Output),
            output => output.Contains(listening, StringComparison.Ordinal), output => output, TimeSpan.FromSeconds(15));
        using var open = await http.GetAsync(new Uri("/api/stats", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, open.StatusCode);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8000", true)]
    [InlineData("http://127.1.2.3:8000", true)]
    [InlineData("http://localhost:8000", true)]
    [InlineData("https://LOCALHOST:8443", true)]
    [InlineData("http://[::1]:8000", true)]
    [InlineData("http://unix:/tmp/scheduler.sock", true)]
    [InlineData("http://0.0.0.0:8000", false)]
    [InlineData("http://[::]:8000", false)]
    [InlineData("http://*:8000", false)]
    [InlineData("http://+:8000", false)]
    [InlineData("http://192.168.1.20:8000", false)]
    [InlineData("http://10.0.0.5:8000", false)]
    [InlineData("http://scheduler.example.com:8000", false)]
    [InlineData("http://my-host:8000", false)]
    [InlineData("not a url", false)]
    public void Loopback_addresses_are_told_from_the_rest(string url, bool loopback) =>
        Assert.Equal(loopback, ListenAddresses.IsLoopback(url));

    private static async Task WaitHealthyAsync(HttpClient http, ProgramProcess program) =>
        await Poll.UntilAsync(
            "the program answers /health/live",
            async () =>
            {
                Assert.False(program.HasExited, $"the program exited with {(program.HasExited ? program.ExitCode : 0)}:\n{program.Output}");
                try
                {
                    using var response = await http.GetAsync(new Uri("/health/live", UriKind.Relative));
                    return response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    return (HttpStatusCode)0;
                }
            },
            status => status == HttpStatusCode.OK,
            status => $"{(int)status}\n{program.Output}",
            StartTimeout);

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
