// mcp_tasks_client.mjs — what the SDK 1.32.2 client's experimental task support does with
// capgate, which does not declare the `tasks` capability (docs/mcp.md, "Tasks").
//
//   node mcp_tasks_client.mjs MCP_URL STUDIO_URL
//
// Prints "ok - NAME" / "not ok - NAME" (tests/e2e/lib.sh conventions).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url, studio] = process.argv.slice(2);
let failures = 0;
function check(name, cond, detail) {
  if (cond) console.log(`ok - ${name}`);
  else { failures++; console.log(`not ok - ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail).slice(0, 600)}`); }
}
async function collect(gen) { const out = []; for await (const m of gen) out.push(m); return out; }

await fetch(`${studio}/__requests`, { method: 'DELETE' });
const client = new Client({ name: 'capgate-tasks-e2e', version: '1.0.0' },
  { capabilities: { tasks: { list: {}, cancel: {}, requests: {} } } });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));

check('SDK: the server declares no tasks capability', client.getServerCapabilities()?.tasks === undefined,
  client.getServerCapabilities());
const { tools } = await client.listTools();
check('SDK: no tool declares execution.taskSupport (so every tool is "forbidden" as a task)',
  tools.every((t) => t.execution?.taskSupport === undefined), tools.map((t) => t.execution));

// the stream API without a task: one plain result, as callTool
let msgs = await collect(client.experimental.tasks.callToolStream({ name: 'train', arguments: { id: 1 } }));
check('SDK: callToolStream without a task yields the plain result',
  msgs.length === 1 && msgs[0].type === 'result' && msgs[0].result.structuredContent?.job_id === 'train-1', msgs);

// asking for a task anyway: the SDK refuses before sending, or capgate runs the call normally
const before = (await (await fetch(`${studio}/__requests`)).json()).length;
msgs = await collect(client.experimental.tasks.callToolStream({ name: 'train', arguments: { id: 1 } },
  undefined, { task: { ttl: 60000 } }));
const after = (await (await fetch(`${studio}/__requests`)).json()).length;
console.log(`# callToolStream with task: ${JSON.stringify(msgs.map((m) => m.type === 'error' ? { type: m.type, message: m.error.message } : m.type))}, upstream calls: ${after - before}`);
check('SDK: callToolStream with a task: capgate ran the call normally, once (the spec\'s rule for an undeclared capability)',
  after - before === 1, after - before);
check('SDK: ... and the SDK, which expected a CreateTaskResult, ends the stream with an error rather than hanging',
  msgs.length === 1 && msgs[0].type === 'error' && /task/.test(msgs[0].error.message), msgs);

// tasks/* are not methods here
for (const [name, p] of [['getTask', () => client.experimental.tasks.getTask('t1')],
  ['listTasks', () => client.experimental.tasks.listTasks()],
  ['cancelTask', () => client.experimental.tasks.cancelTask('t1')]]) {
  try { const r = await p(); check(`SDK: ${name} is refused`, false, r); }
  catch (e) { check(`SDK: ${name} is refused (${e.code}: ${e.message.slice(0, 80)})`, e.code === -32601 || /does not support tasks|capabilit/i.test(e.message), { code: e.code, message: e.message }); }
}
await client.close();
process.exit(failures ? 1 : 0);
