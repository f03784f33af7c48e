using System.Data.Common;
using System.Globalization;
using Orleans.Runtime;

namespace OrleansScheduler.Grains.Storage;

/// <summary>Orleans' reminder table for the one-process mode: Orleans ships no SQLite reminder
/// script, so this one keeps reminders in the same file as the grains (orleans_reminders,
/// sql/sqlite/0003), written through the same group commit. A reminder registered before a
/// kill -9 is there after the restart, and fires.</summary>
internal sealed class SqliteReminderTable(SchedulerDatabase database) : IReminderTable
{
    public Task<ReminderTableData> ReadRows(GrainId grainId) =>
        ReadAsync("ReminderReadGrain", command => command.Bind("@grain_id", grainId.ToString()));

    /// <summary>The reminders of a silo's share of the hash ring, (begin, end], wrapping.</summary>
    public Task<ReminderTableData> ReadRows(uint begin, uint end) =>
        ReadAsync("ReminderReadRange", command => command.Bind("@begin", (long)begin).Bind("@end", (long)end));

    public async Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName)
    {
        var rows = await ReadAsync("ReminderRead", command => command.Bind("@grain_id", grainId.ToString()).Bind("@name", reminderName)).ConfigureAwait(false);
        return rows.Reminders.FirstOrDefault();
    }

    public async Task<string?> UpsertRow(ReminderEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var version = await database.WriteAsync(write => Convert.ToInt64(write.Command("ReminderUpsert")
            .Bind("@grain_id", entry.GrainId.ToString())
            .Bind("@name", entry.ReminderName)
            .Bind("@grain_hash", (long)entry.GrainId.GetUniformHashCode())
            .Bind("@start_at", new DateTimeOffset(DateTime.SpecifyKind(entry.StartAt, DateTimeKind.Utc)).ToUnixTimeMilliseconds())
            .Bind("@period_ms", (long)entry.Period.TotalMilliseconds)
            .ExecuteScalar(), CultureInfo.InvariantCulture)).ConfigureAwait(false);
        return version.ToString(CultureInfo.InvariantCulture);
    }

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) =>
        database.WriteAsync(write => write.Command("ReminderDelete")
            .Bind("@grain_id", grainId.ToString())
            .Bind("@name", reminderName)
            .Bind("@version", long.Parse(eTag, CultureInfo.InvariantCulture))
            .ExecuteNonQuery() > 0);

    public Task TestOnlyClearTable() => database.WriteAsync(write => write.Command("ReminderClear").ExecuteNonQuery());

    private async Task<ReminderTableData> ReadAsync(string statement, Action<DbCommand> bind)
    {
        var entries = await database.ReadAsync(async session =>
        {
            var command = session.Command(statement);
            bind(command);
            var entries = new List<ReminderEntry>();
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                entries.Add(new ReminderEntry
                {
                    GrainId = GrainId.Parse(reader.GetString(0)),
                    ReminderName = reader.GetString(1),
                    StartAt = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)).UtcDateTime,
                    Period = TimeSpan.FromMilliseconds(reader.GetInt64(3)),
                    ETag = reader.GetInt64(4).ToString(CultureInfo.InvariantCulture),
                });
            }

            return entries;
        }).ConfigureAwait(false);
        return new ReminderTableData(entries);
    }
}
