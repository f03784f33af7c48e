namespace OrleansScheduler.Grains.Storage;

/// <summary>An attempt whose lease a silo still holds.</summary>
public sealed record HeldAttempt(string TaskId, int Attempt);
