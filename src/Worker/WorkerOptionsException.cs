namespace OrleansScheduler.Worker;

/// <summary>A bad command line: the message names the option; the program exits with code 2.</summary>
internal sealed class WorkerOptionsException(string message) : Exception(message);
