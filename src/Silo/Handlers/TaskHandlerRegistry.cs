using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansScheduler.Silo.Handlers;

/// <summary>Picks the handler for a task type: a registered one, else the simulator.</summary>
public sealed class TaskHandlerRegistry(IServiceProvider services, SimulatorHandler simulator)
{
    private readonly ConcurrentDictionary<string, bool> _registered = new(StringComparer.Ordinal);

    public ITaskHandler Resolve(string type) => services.GetKeyedService<ITaskHandler>(type) ?? simulator;

    /// <summary>Whether a handler is registered for the type (the simulator's fallback aside).</summary>
    public bool HasHandler(string type) =>
        _registered.GetOrAdd(type, static (t, s) => s.GetKeyedService<ITaskHandler>(t) is not null, services);
}
