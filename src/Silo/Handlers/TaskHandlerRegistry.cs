using Microsoft.Extensions.DependencyInjection;

namespace OrleansScheduler.Silo.Handlers;

/// <summary>Picks the handler for a task type: a registered one, else the simulator.</summary>
public sealed class TaskHandlerRegistry(IServiceProvider services, SimulatorHandler simulator)
{
    public ITaskHandler Resolve(string type) => services.GetKeyedService<ITaskHandler>(type) ?? simulator;
}
