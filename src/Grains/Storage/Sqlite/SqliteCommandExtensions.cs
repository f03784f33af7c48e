using Microsoft.Data.Sqlite;

namespace OrleansScheduler.Grains.Storage.Sqlite;

internal static class SqliteCommandExtensions
{
    /// <summary>Sets a parameter, creating it on first use, so a reused command keeps its
    /// parameter objects and only their values change.</summary>
    public static SqliteCommand Bind(this SqliteCommand command, string name, object? value)
    {
        var parameters = command.Parameters;
        var index = parameters.IndexOf(name);
        if (index < 0)
        {
            parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        else
        {
            parameters[index].Value = value ?? DBNull.Value;
        }

        return command;
    }

    public static long? GetInt64OrNull(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);

    public static string? GetStringOrNull(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
