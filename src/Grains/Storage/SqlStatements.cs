using System.Text;

namespace OrleansScheduler.Grains.Storage;

/// <summary>The runtime statements of one engine, read by name from the embedded
/// sql/&lt;engine&gt;/queries.sql ("-- name: X" marks each, as river's queries do). Both engines define
/// the same names with the same parameters and columns, so the code that runs them is shared.</summary>
public sealed class SqlStatements
{
    private const string Marker = "-- name:";
    private readonly Dictionary<string, string> _statements;

    private SqlStatements(Dictionary<string, string> statements) => _statements = statements;

    public string this[string name] =>
        _statements.TryGetValue(name, out var sql)
            ? sql
            : throw new KeyNotFoundException($"No statement named '{name}' in this engine's queries.sql.");

    public IReadOnlyCollection<string> Names => _statements.Keys;

    public static SqlStatements Load(string engine)
    {
        var resource = $"sql/{engine}/queries.sql";
        using var stream = typeof(SqlStatements).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded {resource} is missing: the build lost it.");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd());
    }

    internal static SqlStatements Parse(string text)
    {
        var statements = new Dictionary<string, string>(StringComparer.Ordinal);
        string? name = null;
        var body = new StringBuilder();
        foreach (var line in text.Split('\n'))
        {
            var trimmed = line.TrimEnd('\r');
            if (trimmed.StartsWith(Marker, StringComparison.Ordinal))
            {
                Add();
                name = trimmed[Marker.Length..].Trim();
                body.Clear();
            }
            else if (name is not null)
            {
                body.AppendLine(trimmed);
            }
        }

        Add();
        return new SqlStatements(statements);

        void Add()
        {
            if (name is null)
            {
                return;
            }

            var sql = body.ToString().Trim().TrimEnd(';').Trim();
            if (sql.Length == 0 || !statements.TryAdd(name, sql))
            {
                throw new InvalidOperationException($"Statement '{name}' is empty or named twice in queries.sql.");
            }
        }
    }
}
