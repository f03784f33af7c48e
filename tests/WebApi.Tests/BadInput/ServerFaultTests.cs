using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.BadInput;

/// <summary>Issue 12: a 500 is left for real server faults, and each is logged with the request's
/// trace id, which the answer carries too.</summary>
public sealed class ServerFaultTests(ServerFaultTests.FaultyApp app) : IClassFixture<ServerFaultTests.FaultyApp>
{
    /// <summary>The real app plus one path that throws, standing for a bug behind any endpoint.</summary>
    public sealed class FaultyApp : SchedulerApp
    {
        public const string FaultPath = "/test-only/fault";

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services => services.AddTransient<IStartupFilter, FaultFilter>());
        }

        private sealed class FaultFilter : IStartupFilter
        {
            // After the app's own pipeline, so its exception handler is the one that answers.
            public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
            {
                next(app);
                app.Use((HttpContext context, RequestDelegate _) => context.Request.Path == FaultPath
                    ? throw new InvalidOperationException("a bug on the server")
                    : Task.CompletedTask);
            };
        }
    }

    [Fact]
    public async Task A_server_fault_is_a_500_problem_logged_once_with_the_requests_trace_id()
    {
        using var api = app.Api();
        var errorsBefore = app.Logs.Errors.Count;

        using var response = await api.Http.GetAsync(new Uri(FaultyApp.FaultPath, UriKind.Relative));

        var problem = await Problem.AssertAsync(response, HttpStatusCode.InternalServerError);
        var traceId = (string?)problem["trace_id"];
        Assert.False(string.IsNullOrEmpty(traceId), problem.ToJsonString());
        Assert.DoesNotContain("a bug on the server", problem.ToJsonString(), StringComparison.Ordinal);
        var logged = app.Logs.ErrorsSince(errorsBefore);
        var entry = Assert.Single(logged);
        Assert.Contains(traceId, entry.Message, StringComparison.Ordinal);
        Assert.Contains(FaultyApp.FaultPath, entry.Message, StringComparison.Ordinal);
        Assert.Equal("a bug on the server", entry.Exception?.Message);
    }
}
