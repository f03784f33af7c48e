namespace OrleansScheduler.Worker.Tests;

/// <summary>docs/workers.md shows the Python worker inline; the file beside it is what the
/// end-to-end test runs. They must be the same program.</summary>
public sealed class DocsTests
{
    [Fact]
    public void The_python_worker_in_the_docs_is_docs_examples_tiny_worker_py()
    {
        var docs = Path.Combine(RepoRoot(), "docs");
        var page = File.ReadAllText(Path.Combine(docs, "workers.md"));
        const string Fence = "```python\n";
        var start = page.IndexOf(Fence, StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/workers.md has no ```python block");
        start += Fence.Length;
        var end = page.IndexOf("```", start, StringComparison.Ordinal);

        Assert.Equal(File.ReadAllText(Path.Combine(docs, "examples", "tiny_worker.py")), page[start..end]);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansScheduler.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No OrleansScheduler.sln above {AppContext.BaseDirectory}.");
    }
}
