// Lets the conformance suite's CLIENT mode test the gateway's downstream (client) side.
//
//   conformance client --command "<node> gateway-client-driver.mjs <mcp-gateway.dll>" --scenario initialize|tools_call
//
// The suite starts its test server, then runs the command with the server's URL appended as the last argument (and the
// scenario name in MCP_CONFORMANCE_SCENARIO). This driver starts the gateway over stdio with that server as its only
// downstream server (empty prefix, every agent allowed), connects to the gateway as an agent with the TypeScript SDK
// client, and does what the scenario expects a client to do: connect (initialize) and, for tools_call, call
// add_numbers. Exit code 0 when the gateway answered as expected.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const [gatewayDll, serverUrl] = process.argv.slice(2);
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
if (!gatewayDll || !serverUrl) {
  console.error('usage: node gateway-client-driver.mjs <mcp-gateway.dll> <server-url>');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'gateway-conformance-client-'));
const servers = join(dir, 'servers.json');
const rules = join(dir, 'rules.json');
writeFileSync(servers, JSON.stringify({ mcpServers: { suite: { url: serverUrl, prefix: '' } } }));
writeFileSync(rules, JSON.stringify({ agents: { default: { allow: { servers: ['*'] } } } }));

const transport = new StdioClientTransport({
  command: 'dotnet',
  args: [gatewayDll, 'serve', '--config', servers, '--rules', rules, '--log-level', 'Debug'],
  stderr: 'inherit',
});
const client = new Client({ name: 'gateway-conformance-driver', version: '1.0.0' });
let exitCode = 1;
try {
  await client.connect(transport);
  const { tools } = await client.listTools();
  console.log(`gateway tools: ${tools.map((t) => t.name).join(', ')}`);

  // The gateway's own list_servers says whether its connection to the suite's server came up.
  const listed = await client.callTool({ name: 'list_servers', arguments: {} });
  const suiteServer = listed.structuredContent?.servers?.find((s) => s.name === 'suite');
  console.log(`list_servers: ${JSON.stringify(suiteServer ?? listed)}`);
  if (suiteServer?.available === false) {
    console.error('the gateway could not connect to the suite\'s server (see the gateway log above)');
  } else if (scenario === 'tools_call') {
    const result = await client.callTool({ name: 'add_numbers', arguments: { a: 5, b: 3 } });
    console.log(`add_numbers result: ${JSON.stringify(result)}`);
    const text = (result.content ?? []).map((c) => c.text ?? '').join('');
    exitCode = !result.isError && text.includes('8') ? 0 : 1;
  } else {
    exitCode = 0;
  }
} catch (error) {
  console.error(`driver failed: ${error instanceof Error ? error.stack : String(error)}`);
} finally {
  await client.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
