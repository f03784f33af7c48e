namespace OrleansScheduler;

/// <summary>The task database cannot be reached or is busy for now (PostgreSQL down or restarting,
/// SQLite locked): nothing of the call was done, and it may be tried again shortly (503). The
/// silos raise it in place of the database driver's own exception, which Orleans cannot carry to
/// a front end in another process.</summary>
[GenerateSerializer]
public sealed class StoreUnavailableException(string message) : Exception(message);
