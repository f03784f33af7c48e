using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>What the test handlers saw, shared with the test through DI: which tasks started and in
/// what order, whose token fired, which handlers have returned. Handlers wait on <see cref="ReleaseAll"/> or their task's <see cref="Signals.Release"/>.</summary>
public sealed class Probe
{
    private readonly ConcurrentDictionary<string, Signals> _tasks = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<string> _startOrder = new();
    private volatile bool _failing = true;

    /// <summary>Task ids in the order their handlers started (one entry per attempt).</summary>
    public IReadOnlyList<string> StartOrder => _startOrder.ToArray();

    /// <summary>Whether the "flaky" handler fails.</summary>
    public bool Failing
    {
        get => _failing;
        set => _failing = value;
    }

    public Task Released => _release.Task;

    /// <summary>Registers the probe and every test handler type on a scheduler's services, the way
    /// the silo's AddTaskHandler&lt;T&gt;(type) does (a keyed singleton ITaskHandler), without
    /// naming the Silo assembly, whose reference in this project is aliased.</summary>
    public void Register(IServiceCollection services)
    {
        services.AddSingleton(this);
        services.AddKeyedSingleton<ITaskHandler, GateHandler>(GateHandler.Type);
        services.AddKeyedSingleton<ITaskHandler, StubbornHandler>(StubbornHandler.Type);
        services.AddKeyedSingleton<ITaskHandler, BlockingHandler>(BlockingHandler.Type);
        services.AddKeyedSingleton<ITaskHandler, FlakyHandler>(FlakyHandler.Type);
        services.AddKeyedSingleton<ITaskHandler, RecordingHandler>(RecordingHandler.Type);
    }

    public Signals Of(string taskId) => _tasks.GetOrAdd(taskId, _ => new Signals());

    /// <summary>Lets every waiting handler (and every later one) return.</summary>
    public void ReleaseAll() => _release.TrySetResult();

    internal void Started(string taskId)
    {
        _startOrder.Enqueue(taskId);
        Of(taskId).StartedSource.TrySetResult();
    }

    public sealed class Signals
    {
        internal TaskCompletionSource StartedSource { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal TaskCompletionSource CancelledSource { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal TaskCompletionSource ExitedSource { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal TaskCompletionSource ReleaseSource { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Started => StartedSource.Task;

        /// <summary>The handler's CancellationToken fired.</summary>
        public Task Cancelled => CancelledSource.Task;

        /// <summary>The handler returned or threw.</summary>
        public Task Exited => ExitedSource.Task;

        public void Release() => ReleaseSource.TrySetResult();
    }
}

/// <summary>"gate": runs until the test releases it (or its task), honouring its token and recording
/// that the token fired.</summary>
public sealed class GateHandler(Probe probe) : ITaskHandler
{
    public const string Type = "gate";

    public async Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        var signals = probe.Of(execution.TaskId);
        probe.Started(execution.TaskId);
        try
        {
            await Task.WhenAny(probe.Released, signals.ReleaseSource.Task).WaitAsync(cancellationToken);
            return JsonSerializer.SerializeToElement(new { released = execution.TaskId });
        }
        finally
        {
            // Checked here, not in a token callback: a registration disposed as the handler
            // unwinds may never run its callback.
            if (cancellationToken.IsCancellationRequested)
            {
                signals.CancelledSource.TrySetResult();
            }

            signals.ExitedSource.TrySetResult();
        }
    }
}

/// <summary>"stubborn": awaits the release and never looks at its token.</summary>
public sealed class StubbornHandler(Probe probe) : ITaskHandler
{
    public const string Type = "stubborn";

    public async Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        var signals = probe.Of(execution.TaskId);
        probe.Started(execution.TaskId);
        try
        {
            await Task.WhenAny(probe.Released, signals.ReleaseSource.Task);
            return null;
        }
        finally
        {
            if (cancellationToken.IsCancellationRequested)
            {
                signals.CancelledSource.TrySetResult();
            }

            signals.ExitedSource.TrySetResult();
        }
    }
}

/// <summary>"blocking": spins synchronously (no await, no token) until released, like CPU-bound
/// code that never checks its token.</summary>
public sealed class BlockingHandler(Probe probe) : ITaskHandler
{
    public const string Type = "blocking";

    public Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        var signals = probe.Of(execution.TaskId);
        probe.Started(execution.TaskId);
        try
        {
            while (!probe.Released.IsCompleted && !signals.ReleaseSource.Task.IsCompleted)
            {
                Thread.Sleep(5); // simulates a handler that blocks its thread and ignores its token
            }

            return Task.FromResult<JsonElement?>(null);
        }
        finally
        {
            signals.ExitedSource.TrySetResult();
        }
    }
}

/// <summary>"flaky": fails while <see cref="Probe.Failing"/> is set, else completes.</summary>
public sealed class FlakyHandler(Probe probe) : ITaskHandler
{
    public const string Type = "flaky";

    public Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        probe.Started(execution.TaskId);
        if (probe.Failing)
        {
            throw new InvalidOperationException($"flaky handler is broken (attempt {execution.Attempt})");
        }

        return Task.FromResult<JsonElement?>(JsonSerializer.SerializeToElement(new { attempt = execution.Attempt }));
    }
}

/// <summary>"record": records that it started and completes at once.</summary>
public sealed class RecordingHandler(Probe probe) : ITaskHandler
{
    public const string Type = "record";

    public Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        probe.Started(execution.TaskId);
        return Task.FromResult<JsonElement?>(null);
    }
}
