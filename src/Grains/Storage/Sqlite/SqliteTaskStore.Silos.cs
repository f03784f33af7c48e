namespace OrleansScheduler.Grains.Storage.Sqlite;

public sealed partial class SqliteTaskStore
{
    public Task RegisterSiloAsync(SiloView silo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(silo);
        return Writer.RunAsync(turn =>
        {
            turn.Command(SqliteSql.ForgetSilos).Bind("$before", (turn.Now - _scheduler.SiloRetention).ToUnixTimeMilliseconds()).Bind("$id", silo.Id).ExecuteNonQuery();
            return turn.Command(SqliteSql.UpsertSilo)
                .Bind("$id", silo.Id)
                .Bind("$host", silo.Host)
                .Bind("$started_at", silo.StartedAt.ToUnixTimeMilliseconds())
                .Bind("$now", turn.NowMs)
                .Bind("$capacity", silo.Capacity)
                .ExecuteNonQuery();
        });
    }

    public Task<IReadOnlyList<HeldAttempt>> HeartbeatAsync(string siloId, IReadOnlyList<HeldAttempt> running, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(siloId);
        ArgumentNullException.ThrowIfNull(running);
        return Writer.RunAsync<IReadOnlyList<HeldAttempt>>(turn =>
        {
            turn.Command(SqliteSql.Heartbeat).Bind("$id", siloId).Bind("$now", turn.NowMs).ExecuteNonQuery();
            var renew = turn.Command(SqliteSql.RenewLease);
            var expires = (turn.Now + _scheduler.LeaseDuration).ToUnixTimeMilliseconds();
            var held = new List<HeldAttempt>(running.Count);
            foreach (var attempt in running)
            {
                if (renew.Bind("$silo", siloId).Bind("$attempt", attempt.Attempt).Bind("$id", attempt.TaskId).Bind("$expires", expires).ExecuteNonQuery() == 1)
                {
                    held.Add(attempt);
                }
            }

            return held;
        });
    }

    public Task MarkSiloStoppedAsync(string siloId, CancellationToken cancellationToken) =>
        Writer.RunAsync(turn => turn.Command(SqliteSql.StopSilo).Bind("$id", siloId).Bind("$now", turn.NowMs).ExecuteNonQuery());

    public async Task<IReadOnlyList<SiloView>> GetSilosAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = SqliteSql.Silos;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var now = _timeProvider.GetUtcNow();
        var silos = new List<SiloView>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var heartbeat = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3));
            var status = reader.GetString(4);
            if (status == "ACTIVE" && now - heartbeat > _scheduler.SiloDeadAfter)
            {
                status = "DEAD";
            }

            silos.Add(new SiloView(reader.GetString(0), reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                heartbeat, status, reader.GetInt32(5), reader.GetInt32(6)));
        }

        return silos;
    }
}
