namespace OrleansScheduler.Grains.Storage;

/// <summary>The schema files of one engine, embedded from sql/&lt;engine&gt;/NNNN_name.sql, in
/// version order. Each engine applies exactly these files; so do the tests.</summary>
internal static class EmbeddedMigrations
{
    public static IReadOnlyList<(int Version, string Name, string Sql)> Load(string engine)
    {
        var prefix = $"sql/{engine}/";
        var assembly = typeof(EmbeddedMigrations).Assembly;
        var migrations = new List<(int Version, string Name, string Sql)>();
        // Migrations are the numbered files (0001_name.sql); queries.sql beside them holds the
        // runtime statements (SqlStatements).
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var name = resource[prefix.Length..];
            if (name.Length < 5 || !char.IsAsciiDigit(name[0]) || name[4] != '_')
            {
                continue;
            }

            var version = int.Parse(name.AsSpan(0, name.IndexOf('_', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"Embedded migration {resource} cannot be read.");
            using var reader = new StreamReader(stream);
            migrations.Add((version, name, reader.ReadToEnd()));
        }

        if (migrations.Count == 0)
        {
            throw new InvalidOperationException($"No embedded {prefix} migrations: the build lost them.");
        }

        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        return migrations;
    }
}
