// mcp_logging_client.mjs — the SDK 1.32.2 client sets a log level and receives capgate's
// notifications/message about upstream failures.
//
//   node mcp_logging_client.mjs http  MCP_URL
//   node mcp_logging_client.mjs stdio CAPGATE STUDIO_URL
//
// Prints "ok - NAME" / "not ok - NAME" (tests/e2e/lib.sh conventions).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const [mode, ...args] = process.argv.slice(2);
let failures = 0;
function check(name, cond, detail) {
  if (cond) console.log(`ok - ${name}`);
  else { failures++; console.log(`not ok - ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail).slice(0, 600)}`); }
}

const transport = mode === 'http'
  ? new StreamableHTTPClientTransport(new URL(args[0]))
  : new StdioClientTransport({ command: args[0], args: ['mcp', '--stdio', '--upstream', args[1]],
    env: { ...process.env, LABEL_STUDIO_API_KEY: 'e2e-configured-key' }, stderr: 'ignore' });
const client = new Client({ name: 'capgate-logging-e2e', version: '1.0.0' });
const notes = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => notes.push(n.params));
await client.connect(transport);
const tag = mode;

check(`${tag}: the server declares logging`, client.getServerCapabilities()?.logging !== undefined);
await client.setLoggingLevel('warning');
const r500 = await client.callTool({ name: 'get-ml-backend', arguments: { id: 500 } });
check(`${tag}: an upstream 500 is still an isError result`, r500.isError === true, r500);
check(`${tag}: and the handler got an error note about it, before the result`,
  notes.length === 1 && notes[0].level === 'error' && notes[0].data?.tool === 'get-ml-backend'
    && notes[0].data?.status === 500, notes);
check(`${tag}: the note never carries the credential`, !JSON.stringify(notes).includes('e2e-configured-key'), notes);
const r404 = await client.callTool({ name: 'get-ml-backend', arguments: { id: 404 } });
check(`${tag}: a 404 is a warning`, r404.isError === true && notes.length === 2 && notes[1].level === 'warning', notes);
await client.setLoggingLevel('error');
await client.callTool({ name: 'get-ml-backend', arguments: { id: 404 } });
check(`${tag}: at level error, a 404 says nothing`, notes.length === 2, notes);
const ok = await client.callTool({ name: 'list-ml-backends', arguments: {} });
check(`${tag}: a success says nothing`, !ok.isError && notes.length === 2, notes);
await client.close();
process.exit(failures ? 1 : 0);
