using Orleans;
namespace OrleansScheduler.WebApi.Endpoints;

/// <summary>Counters, slots, silos: /api/stats (and the seeds' /stats).</summary>
public static class StatsEndpoints
{
    public static IEndpointRouteBuilder MapStatsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/stats", Stats).WithTags("Monitoring");
        app.MapGet("/stats", Stats).WithTags("Monitoring");
        return app;
    }

    private static async Task<IResult> Stats(IGrainFactory grains)
    {
        var stats = await grains.GetCatalogGrain().GetStatsAsync();
        return TypedResults.Ok(new
        {
            counts = TaskStatusNames.All.ToDictionary(n => n, n => stats.Counts.GetValueOrDefault(TaskStatusNames.Parse(n))),
            stats.Total,
            stats.Slots,
            stats.SilosAlive,
            stats.Throughput,
            stats.Latency,
        });
    }
}
