using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests;

/// <summary>Listing by limit + cursor with the next page in a Link header. The class has its own
/// database, so "every task" is exactly what these tests submitted.</summary>
public sealed class PagingTests(PagingTests.App app) : IClassFixture<PagingTests.App>
{
    private const int TaskCount = 23;

    [Theory]
    [InlineData("/api/tasks", 5)]
    [InlineData("/tasks", 7)]
    [InlineData("/api/tasks", 1)]
    [InlineData("/api/tasks", 23)]
    [InlineData("/api/tasks", 1000)]
    public async Task Pages_cover_every_task_exactly_once_in_submission_order(string path, int limit)
    {
        using var api = app.Api();
        var ids = await app.SeedAsync(api);

        var seen = new List<string>();
        var pages = 0;
        string? next = $"{path}?limit={limit}";
        while (next is not null)
        {
            var (items, following) = await api.GetPageAsync(next);
            Assert.True(items.Count <= limit, $"page {pages} has {items.Count} items for limit {limit}");
            Assert.True(items.Count > 0 || pages == 0, $"page {pages} is empty but the previous page linked to it");
            if (following is not null)
            {
                Assert.StartsWith(path + "?", following, StringComparison.Ordinal);
                Assert.Contains($"limit={limit}", following, StringComparison.Ordinal);
                Assert.Equal(limit, items.Count);
            }

            seen.AddRange(items.Select(i => (string)i!["id"]!));
            next = following;
            pages++;
            Assert.True(pages <= TaskCount + 1, $"the Link headers do not end; seen {seen.Count}");
        }

        Assert.Equal(ids, seen);
        Assert.Equal((TaskCount + limit - 1) / limit, pages);
    }

    [Theory]
    [InlineData("/api/tasks?order=newest&limit=5")]
    [InlineData("/api/tasks?order=NEWEST&limit=23")]
    [InlineData("/api/tasks?order=newest&type=odd&limit=4")]
    public async Task Newest_first_pages_cover_the_same_tasks_in_reverse_and_keep_the_order_in_the_next_link(string first)
    {
        using var api = app.Api();
        var ids = await app.SeedAsync(api);
        var expected = first.Contains("type=odd", StringComparison.Ordinal) ? ids.Where((_, i) => i % 2 == 1).ToList() : ids;

        var (firstPage, next) = await api.GetPageAsync(first);
        Assert.True(next is null || next.Contains("order=newest", StringComparison.Ordinal), $"the next link lost the order: {next}");
        var newest = await api.ListAllAsync(first);

        Assert.Equal(expected.AsEnumerable().Reverse(), newest.Select(t => (string)t["id"]!));
        Assert.Equal(expected[^1], (string)firstPage[0]!["id"]!);
    }

    [Fact]
    public async Task The_type_filter_is_kept_in_the_next_link()
    {
        using var api = app.Api();
        var ids = await app.SeedAsync(api);

        var odd = await api.ListAllAsync("/api/tasks?type=odd&limit=3");

        Assert.Equal(ids.Where((_, i) => i % 2 == 1), odd.Select(t => (string)t["id"]!));
        Assert.All(odd, t => Assert.Equal("odd", (string)t["type"]!));
    }

    [Fact]
    public async Task Offset_skips_as_seed_004_asks()
    {
        using var api = app.Api();
        var ids = await app.SeedAsync(api);

        var (page, _) = await api.GetPageAsync("/api/tasks?limit=4&offset=10");

        Assert.Equal(ids.Skip(10).Take(4), page.Select(t => (string)t!["id"]!));
    }

    [Fact]
    public async Task Listing_items_carry_id_and_status()
    {
        using var api = app.Api();
        await app.SeedAsync(api);

        var (page, _) = await api.GetPageAsync("/api/tasks?limit=2");

        Assert.All(page, item =>
        {
            var task = item!.AsObject();
            Assert.False(string.IsNullOrEmpty((string?)task["id"]));
            Assert.Contains((string)task["status"]!, new[] { "QUEUED", "RUNNING", "COMPLETED" });
        });
    }

    public sealed class App : SchedulerApp
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private List<string>? _ids;

        /// <summary>Submits the class's tasks once and answers their ids in submission order.</summary>
        public async Task<List<string>> SeedAsync(Api api)
        {
            ArgumentNullException.ThrowIfNull(api);
            await _gate.WaitAsync();
            try
            {
                if (_ids is null)
                {
                    var ids = new List<string>();
                    for (var i = 0; i < TaskCount; i++)
                    {
                        var id = $"page-{i:00}";
                        await api.SubmitAsync(new { id, type = i % 2 == 0 ? "even" : "odd" });
                        ids.Add(id);
                    }

                    _ids = ids;
                }

                return _ids;
            }
            finally
            {
                _gate.Release();
            }
        }

        protected override void Dispose(bool disposing)
        {
            _gate.Dispose();
            base.Dispose(disposing);
        }
    }
}
