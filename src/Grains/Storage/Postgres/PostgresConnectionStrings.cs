using Npgsql;

namespace OrleansScheduler.Grains.Storage.Postgres;

/// <summary>Which DATABASE_URL names PostgreSQL, and its Npgsql connection string.</summary>
public static class PostgresConnectionStrings
{
    private static readonly string[] UrlSchemes = ["postgres://", "postgresql://"];

    /// <summary>True for postgres://..., postgresql://... and an Npgsql connection string (one that
    /// names a Host or Server); anything else is a SQLite path.</summary>
    public static bool IsPostgres(string? url)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            return false;
        }

        if (UrlSchemes.Any(s => url.StartsWith(s, StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }

        if (!url.Contains('=', StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var pair in url.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var key = pair.Split('=', 2)[0].Trim();
            if (key.Equals("Host", StringComparison.OrdinalIgnoreCase) || key.Equals("Server", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>postgres://user:pass@host:port/db?sslmode=require&amp;search_path=x to an Npgsql
    /// connection string; an Npgsql connection string is returned as it is.</summary>
    public static string ToConnectionString(string url)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        if (!UrlSchemes.Any(s => url.StartsWith(s, StringComparison.OrdinalIgnoreCase)))
        {
            return new NpgsqlConnectionStringBuilder(url).ConnectionString;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new InvalidOperationException("DATABASE_URL is not a valid postgres:// URL (expected postgres://user:pass@host:port/db).");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
        };
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2)
            {
                builder.Password = Uri.UnescapeDataString(parts[1]);
            }
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            builder.Database = database;
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]);
            var value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            switch (key.ToLowerInvariant())
            {
                case "sslmode":
                    builder.SslMode = Enum.Parse<SslMode>(value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true);
                    break;
                case "search_path":
                case "options" when value.StartsWith("-csearch_path=", StringComparison.Ordinal):
                    builder.SearchPath = key == "options" ? value["-csearch_path=".Length..] : value;
                    break;
                case "application_name":
                    builder.ApplicationName = value;
                    break;
                default:
                    // Npgsql's own keywords (Pooling, Timeout, ...) may be given as query parameters.
                    builder[key] = value;
                    break;
            }
        }

        return builder.ConnectionString;
    }
}
