namespace OrleansScheduler;

[GenerateSerializer, Immutable]
public sealed record SiloView(
    string Id,
    string Host,
    DateTimeOffset StartedAt,
    DateTimeOffset HeartbeatAt,
    string Status,
    int Capacity,
    int RunningTasks);
