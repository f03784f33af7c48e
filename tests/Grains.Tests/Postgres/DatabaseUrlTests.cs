using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrleansScheduler.Grains.Hosting;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Postgres;
using OrleansScheduler.Grains.Storage.Sqlite;

namespace OrleansScheduler.Grains.Tests.Postgres;

/// <summary>DATABASE_URL picks the engine; no database is opened here.</summary>
public sealed class DatabaseUrlTests
{
    [Theory]
    [InlineData("postgres://u:p@db.example:6432/sched", true)]
    [InlineData("postgresql://u@localhost/sched", true)]
    [InlineData("Host=localhost;Database=sched;Username=u", true)]
    [InlineData("server=localhost;database=sched", true)]
    [InlineData("data/scheduler.db", false)]
    [InlineData("sqlite:///tmp/x.db", false)]
    [InlineData("Data Source=/tmp/x.db", false)]
    [InlineData("/var/lib/hostname=odd/x.db", false)]
    public void Postgres_urls_and_connection_strings_name_postgres_and_anything_else_is_sqlite(string url, bool postgres) =>
        Assert.Equal(postgres, PostgresConnectionStrings.IsPostgres(url));

    [Fact]
    public void A_postgres_url_becomes_an_npgsql_connection_string()
    {
        var builder = new NpgsqlConnectionStringBuilder(
            PostgresConnectionStrings.ToConnectionString("postgres://sched%40ops:p%3Ass@db.example:6432/tasks?sslmode=require&search_path=s1"));

        Assert.Equal(("db.example", 6432, "sched@ops", "p:ss", "tasks"), (builder.Host, builder.Port, builder.Username, builder.Password, builder.Database));
        Assert.Equal(SslMode.Require, builder.SslMode);
        Assert.Equal("s1", builder.SearchPath);
        Assert.Equal(5432, new NpgsqlConnectionStringBuilder(PostgresConnectionStrings.ToConnectionString("postgresql://u@h/d")).Port);
    }

    [Theory]
    [InlineData("postgres://u:p@localhost:5432/sched", typeof(PostgresDatabase))]
    [InlineData("Host=localhost;Database=sched", typeof(PostgresDatabase))]
    [InlineData("scheduler-test.db", typeof(SqliteDatabase))]
    public async Task The_database_of_the_engine_the_url_names_is_registered(string url, Type expected)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:DatabaseUrl"] = url })
            .Build();
        await using var provider = new ServiceCollection().AddLogging().AddSchedulerDatabase(configuration).BuildServiceProvider();

        Assert.IsType(expected, provider.GetRequiredService<SchedulerDatabase>());
    }

    [Fact]
    public void A_silos_pool_is_bounded_unless_the_url_sets_one()
    {
        Assert.Equal(PostgresDatabase.DefaultMaxPoolSize, new NpgsqlConnectionStringBuilder(PostgresDatabase.ConnectionStringFor("postgres://u@h/d")).MaxPoolSize);
        Assert.Equal(7, new NpgsqlConnectionStringBuilder(PostgresDatabase.ConnectionStringFor("Host=h;Database=d;Maximum Pool Size=7")).MaxPoolSize);
    }
}
