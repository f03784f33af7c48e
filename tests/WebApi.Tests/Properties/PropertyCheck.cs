using System.Diagnostics;
using CsCheck;
using Xunit.Abstractions;

namespace OrleansScheduler.WebApi.Tests.Properties;

/// <summary>Runs a property over generated cases, one after another against one server. The cases
/// come from a fixed seed, so every run (and CI) tries the same ones; PROPERTY_SEED overrides it and
/// PROPERTY_CASES the number of cases. A failing case is shrunk with CsCheck (which tries smaller
/// cases from the failing one's seed) and reported with the seed that replays it.</summary>
public static class PropertyCheck
{
    public const string SeedVariable = "PROPERTY_SEED";
    public const string CasesVariable = "PROPERTY_CASES";
    private const int ShrinkSeconds = 30;

    public static async Task RunAsync<T>(ITestOutputHelper output, string name, uint stream, int cases, Gen<T> gen, Func<T, Task> property)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(gen);
        ArgumentNullException.ThrowIfNull(property);
        var seed = Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } given ? given : new PCG(stream, 20260109).ToString();
        if (int.TryParse(Environment.GetEnvironmentVariable(CasesVariable), out var count) && count > 0)
        {
            cases = count;
        }

        var pcg = PCG.Parse(seed);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < cases; i++)
        {
            var state = pcg.State;
            var value = gen.Generate(pcg, null, out _);
            try
            {
                await property(value);
            }
            catch (Exception ex)
            {
                var caseSeed = pcg.ToString(state);
                var shrunk = await ShrinkAsync(gen, property, caseSeed);
                throw new Xunit.Sdk.XunitException(
                    $"{name}: case {i + 1} of {cases} failed (run seed {seed}; replay from this case with {SeedVariable}={caseSeed}).\n"
                    + $"The case:\n{value}\n\nThe failure: {ex}\n\nShrunk by CsCheck (time-boxed to {ShrinkSeconds} s):\n{shrunk}");
            }
        }

        output.WriteLine($"{name}: {cases} generated cases passed in {clock.Elapsed.TotalSeconds:0.0} s (seed {seed}).");
    }

    private static async Task<string> ShrinkAsync<T>(Gen<T> gen, Func<T, Task> property, string seed)
    {
        try
        {
            await gen.SampleAsync(property, seed: seed, time: ShrinkSeconds, threads: 1, print: v => v?.ToString() ?? "null");
            return "(the case passed when run again: the failure depends on what ran before it; replay the run.)";
        }
        catch (CsCheckException ex)
        {
            return ex.Message.Replace("CsCheck_Seed", SeedVariable, StringComparison.Ordinal) + $"\n  {ex.InnerException?.GetType().Name}: {ex.InnerException?.Message}";
        }
    }
}
