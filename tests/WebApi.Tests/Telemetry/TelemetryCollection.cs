namespace OrleansScheduler.WebApi.Tests.Telemetry;

/// <summary>The tests that scrape /metrics run alone, one app at a time. A MeterProvider listens to
/// meters by name across the whole process, so with several apps alive (the test classes of this
/// assembly run in parallel, each with its own silo) one app's /metrics also carries the others'
/// "Microsoft.Orleans" and "OrleansScheduler" instruments: the same series twice. A real process
/// hosts one app.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "Telemetry (alone)";
}
