// A small stdio MCP server (TypeScript SDK, low-level Server) for what neither server-everything nor the fixture lets a
// test observe: whether a call was cancelled downstream, and the roots of the agent whose call asks for them, asked
// afresh on every call (server-everything asks once, when it starts, and caches the answer).
//
//   node probe-server.cjs <node_modules folder holding @modelcontextprotocol/sdk>
//
// Tools:
//   slow           {ms}: reports progress 0 at once (when given a progressToken), then waits ms or until cancelled.
//   cancellations  {count, timeoutMs}: waits until `count` calls of slow were cancelled (or the timeout passes) and
//                  returns what it saw: [{id, reason}] of every cancelled slow call, as structuredContent.
//   roots          asks the client for its roots (roots/list) during the call and returns them as structuredContent.
"use strict";

const path = require("node:path");
const sdk = path.join(process.argv[2], "@modelcontextprotocol", "sdk", "dist", "cjs");
const { Server } = require(path.join(sdk, "server", "index.js"));
const { StdioServerTransport } = require(path.join(sdk, "server", "stdio.js"));
const { ListToolsRequestSchema, CallToolRequestSchema } = require(path.join(sdk, "types.js"));

const server = new Server({ name: "probe-server", version: "1.0.0" }, { capabilities: { tools: {} } });

const cancelled = [];
const waiters = [];

function recordCancellation(entry) {
  cancelled.push(entry);
  // A waiter returns true once it is satisfied; the others keep waiting.
  const pending = waiters.splice(0).filter((waiter) => !waiter());
  waiters.push(...pending);
}

const tools = [
  { name: "slow", description: "Waits 'ms' milliseconds unless cancelled.", inputSchema: { type: "object", properties: { ms: { type: "integer" } } } },
  { name: "cancellations", description: "Waits for 'count' cancelled slow calls.", inputSchema: { type: "object", properties: { count: { type: "integer" }, timeoutMs: { type: "integer" } } } },
  { name: "roots", description: "Returns the client's roots, asked during the call.", inputSchema: { type: "object", properties: {} } },
];

server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));

server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
  const args = request.params.arguments ?? {};
  switch (request.params.name) {
    case "slow": {
      const outcome = new Promise((resolve) => {
        const timer = setTimeout(() => resolve("completed"), args.ms ?? 1000);
        const onAbort = () => {
          clearTimeout(timer);
          recordCancellation({ id: extra.requestId, reason: String(extra.signal.reason ?? "") });
          resolve("cancelled");
        };
        if (extra.signal.aborted) {
          onAbort();
        } else {
          extra.signal.addEventListener("abort", onAbort, { once: true });
        }
      });
      const token = request.params._meta?.progressToken;
      if (token !== undefined && !extra.signal.aborted) {
        await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: 0, message: "started" } });
      }

      return { content: [{ type: "text", text: await outcome }] };
    }
    case "cancellations": {
      const count = args.count ?? 1;
      if (cancelled.length < count) {
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, args.timeoutMs ?? 10000);
          waiters.push(() => {
            if (cancelled.length < count) {
              return false;
            }

            clearTimeout(timer);
            resolve();
            return true;
          });
        });
      }

      return { content: [{ type: "text", text: JSON.stringify(cancelled) }], structuredContent: { cancelled: [...cancelled] } };
    }
    case "roots": {
      try {
        const result = await server.listRoots(undefined, { relatedRequestId: extra.requestId });
        return { content: [{ type: "text", text: JSON.stringify(result.roots) }], structuredContent: { roots: result.roots } };
      } catch (error) {
        return { content: [{ type: "text", text: `roots/list failed: ${error instanceof Error ? error.message : String(error)}` }], isError: true };
      }
    }
    default:
      throw new Error(`Unknown tool ${request.params.name}`);
  }
});

server.connect(new StdioServerTransport()).catch((error) => {
  console.error(error);
  process.exit(1);
});
