namespace OrleansScheduler.Worker;

/// <summary>The server refused the worker for good (a 4xx on register other than 404/409/429, e.g.
/// 400 for a bad capability or 401/403 for the key): retrying cannot help, the program exits 2.</summary>
internal sealed class WorkerFatalException(string message) : Exception(message);
