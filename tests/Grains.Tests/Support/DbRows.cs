using System.Data.Common;

namespace OrleansScheduler.Grains.Tests.Support;

public static class DbRows
{
    /// <summary>Each row <paramref name="command"/> answers, as its columns' values in order (DBNull
    /// as null).</summary>
    public static async Task<List<object?[]>> ReadAsync(DbCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }
}
