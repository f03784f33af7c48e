using OrleansScheduler.Bench;

return await BenchProgram.RunAsync(args);
