using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/McpGateway.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(McpGateway.Benchmarks.PolicyBenchmarks).Assembly).Run(args);
