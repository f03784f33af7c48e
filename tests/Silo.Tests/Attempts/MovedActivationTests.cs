using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Core.Internal;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Tasks;
using OrleansScheduler.Grains.Tests.Postgres;
using OrleansScheduler.Silo.Hosting;
using OrleansScheduler.Testing;

namespace OrleansScheduler.Silo.Tests.Attempts;

/// <summary>A TaskGrain can be active on another silo than the one whose executor runs its attempt
/// while that silo is alive: Orleans moves activations (migration), and its default grain directory
/// allows a second activation while silos join or leave (the bench's 3-silo drain once recorded 198
/// of 20,000 no-op tasks FAILED "attempt lost" that way, their handlers having run to the end). Such
/// an activation sees a RUNNING row that its own executor does not run; it must record the attempt
/// as lost only when the attempt's silo is gone, or is its own. Two real silos on PostgreSQL;
/// activations are put on a chosen silo with Orleans' placement hint.</summary>
public sealed class MovedActivationTests(PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>, IAsyncLifetime
{
    private readonly List<IHost> _silos = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        RequestContext.Clear();
        foreach (var silo in _silos)
        {
            await silo.StopAsync(TimeSpan.FromSeconds(20));
            silo.Dispose();
        }
    }

    [SkippableFact]
    public async Task A_task_moved_off_its_attempts_live_silo_stays_running_and_its_report_is_recorded()
    {
        var (a, b) = await StartTwoSilosAsync();
        var grains = a.Services.GetRequiredService<IGrainFactory>();
        var management = grains.GetGrain<IManagementGrain>(0);
        const string id = "moved";
        var grain = grains.GetTaskGrain(id);
        await grain.SubmitAsync(new TaskSpec(id, "sim", 3_000, [], null, TaskSpec.DefaultPriority, null, null, MaxAttempts: 1));
        await Poll.UntilAsync($"{id} runs", () => grain.GetAsync(), v => v is { Status: TaskStatus.Running }, v => $"{v?.Status}");

        // Its activation is on the silo whose executor runs the attempt; move it to the other one.
        var attemptSilo = await management.GetActivationAddress(grain);
        var other = Address(a).Equals(attemptSilo) ? Address(b) : Address(a);
        RequestContext.Set(IPlacementDirector.PlacementHintKey, other);
        await grain.AsReference<IGrainManagementExtension>().MigrateOnIdle();
        RequestContext.Clear();
        await Poll.UntilAsync($"{id}'s activation is on {other}", async () => await management.GetActivationAddress(grain),
            now => other.Equals(now), now => $"on {now}");

        var view = await grain.GetAsync();
        Assert.True(view is { Status: TaskStatus.Running }, $"{id} moved to {other} while its attempt runs on {attemptSilo}, alive: {await DescribeAsync(grain)}");
        var done = await Poll.UntilAsync($"{id} ends", () => grain.GetAsync(), v => v is not null && v.Status.IsTerminal(), v => $"{v?.Status}");
        Assert.True(done is { Status: TaskStatus.Completed, Attempts: 1 }, await DescribeAsync(grain));
    }

    [SkippableFact]
    public async Task An_activation_on_the_attempts_own_silo_that_does_not_run_it_records_it_lost()
    {
        var (a, _) = await StartTwoSilosAsync();
        var id = "not-run-here";
        await WriteRunningAsync(a, id, Address(a));
        var grain = await ActivateOnAsync(a, id, Address(a));
        Assert.True(await grain.GetAsync() is { Status: TaskStatus.Failed }, await DescribeAsync(grain));
        Assert.Contains(await grain.GetEventsAsync() ?? [], e => e.Reason?.Contains("attempt lost", StringComparison.Ordinal) == true);
    }

    [SkippableFact]
    public async Task An_attempt_whose_silo_is_not_a_member_is_recorded_lost()
    {
        var (a, b) = await StartTwoSilosAsync();
        var gone = SiloAddress.FromParsableString("127.0.0.1:1@1");
        var id = "silo-gone";
        await WriteRunningAsync(a, id, gone);
        var grain = await ActivateOnAsync(a, id, Address(b));
        Assert.True(await grain.GetAsync() is { Status: TaskStatus.Failed }, $"{id}'s attempt ran on {gone}, not a member: {await DescribeAsync(grain)}");
        Assert.Contains(await grain.GetEventsAsync() ?? [], e => e.Reason?.Contains("attempt lost", StringComparison.Ordinal) == true);
    }

    private static SiloAddress Address(IHost silo) => silo.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;

    /// <summary>Activates the task on <paramref name="on"/> (Orleans' placement hint) and waits for its activation.</summary>
    private static async Task<ITaskGrain> ActivateOnAsync(IHost via, string id, SiloAddress on)
    {
        var grains = via.Services.GetRequiredService<IGrainFactory>();
        var grain = grains.GetTaskGrain(id);
        RequestContext.Set(IPlacementDirector.PlacementHintKey, on);
        try
        {
            await grain.GetAsync();
        }
        finally
        {
            RequestContext.Clear();
        }

        return grain;
    }

    /// <summary>A task's row as a grain leaves it once its attempt started on <paramref name="silo"/>
    /// (attempt 1 of 1, RUNNING, its grant taken), with no activation anywhere and no executor running it.</summary>
    private static async Task WriteRunningAsync(IHost host, string id, SiloAddress silo)
    {
        var db = host.Services.GetRequiredService<SchedulerDatabase>();
        var now = DateTimeOffset.UtcNow;
        var state = new TaskState
        {
            Id = id,
            Type = "noop",
            Status = TaskStatus.Running,
            Priority = TaskSpec.DefaultPriority,
            MaxAttempts = 1,
            CreatedAt = now,
            QueuedAt = now,
        };
        state.Seq = await db.WriteAsync(write => TaskRows.Insert(write, state)) ?? throw new InvalidOperationException($"{id} exists");
        state.StoredStatus = TaskStatus.Running;
        (state.Attempts, state.WorkerId, state.AttemptSilo, state.GrantId, state.StartedAt) = (1, "silo-a", silo.ToParsableString(), 1_000, now);
        await db.WriteAsync(write => TaskRows.Write(write, state, version: 0));
    }

    private static async Task<string> DescribeAsync(ITaskGrain grain)
    {
        var view = await grain.GetAsync();
        var events = await grain.GetEventsAsync() ?? [];
        return $"{view?.Status}, attempts {view?.Attempts}, error {view?.Error}; events: " +
            string.Join(" | ", events.Select(e => $"{e.From?.ToName() ?? "-"} -> {e.To.ToName()} on {e.SiloId}: {e.Reason}"));
    }

    private async Task<(IHost A, IHost B)> StartTwoSilosAsync()
    {
        var connectionString = database.Require();
        return (await StartSiloAsync(connectionString, "silo-a"), await StartSiloAsync(connectionString, "silo-b"));
    }

    private async Task<IHost> StartSiloAsync(string connectionString, string name)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            // A small pool of its own per silo (a distinct Application Name), as a process would have.
            ["Storage:DatabaseUrl"] = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = name, MaxPoolSize = 10 }.ConnectionString,
            ["Scheduler:MaxConcurrentTasks"] = "4",
            ["Silo:SiloId"] = name,
        });
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo => silo.AddScheduler(builder.Configuration));
        var host = builder.Build();
        await host.StartAsync();
        _silos.Add(host);
        return host;
    }
}
