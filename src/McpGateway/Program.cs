using McpGateway.Hosting;

return await GatewayCli.RunAsync(args);
