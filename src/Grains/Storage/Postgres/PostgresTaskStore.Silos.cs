namespace OrleansScheduler.Grains.Storage.Postgres;

public sealed partial class PostgresTaskStore
{
    public Task RegisterSiloAsync(SiloView silo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(silo);
        return RunAsync(async (turn, ct) =>
        {
            await ExecuteAsync(turn.Command(PostgresSql.ForgetSilos).Bind("before", turn.Now - _scheduler.SiloRetention).Bind("id", silo.Id), ct).ConfigureAwait(false);
            return await ExecuteAsync(turn.Command(PostgresSql.UpsertSilo)
                .Bind("id", silo.Id)
                .Bind("host", silo.Host)
                .Bind("started_at", silo.StartedAt.ToUniversalTime())
                .Bind("now", turn.Now)
                .Bind("capacity", silo.Capacity), ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<HeldAttempt>> HeartbeatAsync(string siloId, IReadOnlyList<HeldAttempt> running, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(siloId);
        ArgumentNullException.ThrowIfNull(running);
        return RunAsync<IReadOnlyList<HeldAttempt>>(async (turn, ct) =>
        {
            await ExecuteAsync(turn.Command(PostgresSql.Heartbeat).Bind("id", siloId).Bind("now", turn.Now), ct).ConfigureAwait(false);
            var held = new List<HeldAttempt>();
            await using var command = turn.Command(PostgresSql.RenewLeases)
                .Bind("silo", siloId)
                .Bind("ids", running.Select(r => r.TaskId).ToArray())
                .Bind("attempts", running.Select(r => r.Attempt).ToArray())
                .Bind("expires", turn.Now + _scheduler.LeaseDuration);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                held.Add(new HeldAttempt(reader.GetString(0), reader.GetInt32(1)));
            }

            return held;
        }, cancellationToken);
    }

    public Task MarkSiloStoppedAsync(string siloId, CancellationToken cancellationToken) =>
        RunAsync((turn, ct) => ExecuteAsync(turn.Command(PostgresSql.StopSilo).Bind("id", siloId).Bind("now", turn.Now), ct), cancellationToken);

    public async Task<IReadOnlyList<SiloView>> GetSilosAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        var now = await ReadClockAsync(connection, null, cancellationToken).ConfigureAwait(false);
        await using var command = new Npgsql.NpgsqlCommand(PostgresSql.Silos, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var silos = new List<SiloView>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var heartbeat = reader.GetTime(3);
            var status = reader.GetString(4);
            if (status == "ACTIVE" && now - heartbeat > _scheduler.SiloDeadAfter)
            {
                status = "DEAD";
            }

            silos.Add(new SiloView(reader.GetString(0), reader.GetString(1), reader.GetTime(2), heartbeat, status, reader.GetInt32(5), reader.GetInt32(6)));
        }

        return silos;
    }
}
