namespace OrleansScheduler.Worker.Tests;

/// <summary>The worker's command line: defaults, each option's form, and a message naming the
/// option for each bad one.</summary>
public sealed class WorkerOptionsTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Fact]
    public void Seed_004s_command_line_gives_the_documented_defaults()
    {
        var options = WorkerOptions.Parse(["--worker-id", "worker-1", "--capabilities", "processing,analysis", "--server", "http://127.0.0.1:8000"], NoEnvironment, "host-1");

        Assert.Equal("worker-1", options.WorkerId);
        Assert.Equal(["processing", "analysis"], options.Capabilities);
        Assert.Equal(new Uri("http://127.0.0.1:8000"), options.Server);
        Assert.Equal(4, options.MaxConcurrent);
        Assert.Equal(64, options.MaxLease);
        Assert.Null(options.ApiKey);
        Assert.Empty(options.Commands);
        Assert.Equal(["processing", "analysis"], options.SimulatedCapabilities);
    }

    [Fact]
    public void Every_option_is_read_in_both_forms_and_the_key_falls_back_to_the_environment()
    {
        var options = WorkerOptions.Parse(
            ["--capabilities=simulate, shell ,shell,other", "--max-concurrent=16", "--max-lease", "8", "--command", "shell=cat | wc -c", "--command=other=x=1 echo $x"],
            name => name == "SCHEDULER_API_KEY" ? "secret" : null,
            "host-7");

        Assert.Equal("host-7", options.WorkerId);
        Assert.Equal(["simulate", "shell", "other"], options.Capabilities);
        Assert.Equal(16, options.MaxConcurrent);
        Assert.Equal(8, options.MaxLease);
        Assert.Equal("secret", options.ApiKey);
        Assert.Equal("cat | wc -c", options.Commands["shell"]);
        Assert.Equal("x=1 echo $x", options.Commands["other"]);
        Assert.Empty(options.SimulatedCapabilities);

        Assert.Equal("given", WorkerOptions.Parse(["--capabilities", "a", "--api-key", "given"], _ => "env", "h").ApiKey);
    }

    [Theory]
    [InlineData("--capabilities", "--capabilities needs a value")]
    [InlineData("--worker-id w", "--capabilities is required")]
    [InlineData("--capabilities ,", "--capabilities must list")]
    [InlineData("--capabilities a --max-concurrent 0", "--max-concurrent '0'")]
    [InlineData("--capabilities a --max-concurrent 1001", "--max-concurrent '1001'")]
    [InlineData("--capabilities a --max-lease x", "--max-lease 'x'")]
    [InlineData("--capabilities a --worker-id bad/id", "--worker-id 'bad/id'")]
    [InlineData("--capabilities a --server localhost:8000", "--server 'localhost:8000'")]
    [InlineData("--capabilities a --command a", "--command 'a' must be TYPE=SHELLCOMMAND")]
    [InlineData("--capabilities a --command b=true", "'b' is not in --capabilities")]
    [InlineData("--capabilities a --command a=true --command a=false", "type 'a' is given twice")]
    [InlineData("--capabilities a --verbose", "unknown option '--verbose'")]
    [InlineData("--capabilities a stray", "unexpected argument 'stray'")]
    public void A_bad_option_is_refused_with_a_message_naming_it(string commandLine, string message)
    {
        var refused = Assert.Throws<WorkerOptionsException>(() => WorkerOptions.Parse(commandLine.Split(' '), NoEnvironment, "h"));
        Assert.Contains(message, refused.Message, StringComparison.Ordinal);
    }
}
