// mcp_tasks_client.mjs — the SDK 1.32.2 client's experimental task API against capgate:
// start a long tool call as a task, poll it, fetch its result, list and cancel tasks.
//
//   node mcp_tasks_client.mjs http  MCP_URL STUDIO_URL
//   node mcp_tasks_client.mjs stdio CAPGATE STUDIO_URL
//
// The fake studio answers id 3000 after 3 s (train and get-ml-backend). Prints
// "ok - NAME" / "not ok - NAME" (tests/e2e/lib.sh conventions).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';

const [mode, ...args] = process.argv.slice(2);
const studio = args[1];
let failures = 0;
function check(name, cond, detail) {
  if (cond) console.log(`ok - ${mode}: ${name}`);
  else { failures++; console.log(`not ok - ${mode}: ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail).slice(0, 600)}`); }
}
async function upstream() { return (await fetch(`${studio}/__requests`)).json(); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

await fetch(`${studio}/__requests`, { method: 'DELETE' });
const transport = mode === 'http'
  ? new StreamableHTTPClientTransport(new URL(args[0]))
  : new StdioClientTransport({ command: args[0], args: ['mcp', '--stdio', '--upstream', studio],
    env: { ...process.env, LABEL_STUDIO_API_KEY: 'e2e-configured-key' }, stderr: 'ignore' });
const client = new Client({ name: 'capgate-tasks-e2e', version: '1.0.0' });
await client.connect(transport);

const caps = client.getServerCapabilities();
check('the server declares tasks: list, cancel and tools/call',
  caps?.tasks?.list && caps?.tasks?.cancel && caps?.tasks?.requests?.tools?.call, caps?.tasks);
const { tools } = await client.listTools();
check('every tool may run as a task (execution.taskSupport optional)',
  tools.every((t) => t.execution?.taskSupport === 'optional'), tools.map((t) => t.execution));

// start, poll, result: the SDK's stream API does all three
let t0 = Date.now();
const seen = [];
for await (const m of client.experimental.tasks.callToolStream({ name: 'train', arguments: { id: 3000 } },
  undefined, { task: { ttl: 60000 } })) {
  seen.push({ type: m.type, at: Date.now() - t0, status: m.task?.status, result: m.result, error: m.error?.message });
}
const created = seen.find((m) => m.type === 'taskCreated');
check('the task is created at once (< 1 s), working', created && created.at < 1000 && created.status === 'working', seen);
check('it is polled while working, then completed',
  seen.some((m) => m.type === 'taskStatus' && m.status === 'working') && seen.some((m) => m.type === 'taskStatus' && m.status === 'completed'), seen);
const last = seen[seen.length - 1];
check('the result is the tool\'s (train-3000), after the upstream answered (>= 3 s)',
  last.type === 'result' && last.result?.structuredContent?.job_id === 'train-3000' && last.at >= 2900, seen);
check('... with the related-task _meta', last.result?._meta?.['io.modelcontextprotocol/related-task']?.taskId !== undefined, last.result);

// tasks/list and tasks/get, tasks/result of a completed task again
const { tasks } = await client.experimental.tasks.listTasks();
check('tasks/list lists it, completed', tasks.some((t) => t.status === 'completed'), tasks);
const done = tasks.find((t) => t.status === 'completed');
const again = await client.experimental.tasks.getTaskResult(done.taskId, CallToolResultSchema);
check('tasks/result of a completed task answers at once, the same result', again.structuredContent?.job_id === 'train-3000', again);

// cancel: the upstream call is aborted
await fetch(`${studio}/__requests`, { method: 'DELETE' });
t0 = Date.now();
const stream = client.experimental.tasks.callToolStream({ name: 'get-ml-backend', arguments: { id: 3000 } },
  undefined, { task: {} });
const first = await stream.next();
const taskId = first.value?.task?.taskId;
check('a second task starts', first.value?.type === 'taskCreated' && taskId, first.value);
await sleep(300);
const cancelled = await client.experimental.tasks.cancelTask(taskId);
check('tasks/cancel: the task is cancelled', cancelled.status === 'cancelled', cancelled);
const rest = [];
for await (const m of stream) rest.push({ type: m.type, status: m.task?.status, error: m.error?.message });
check('the SDK\'s stream ends with "cancelled"', rest.length && rest[rest.length - 1].type === 'error' && /cancelled/.test(rest[rest.length - 1].error), rest);
await sleep(300);
const reqs = (await upstream()).filter((r) => r.path === '/api/ml/3000');
check('the upstream request was aborted', reqs.length === 1 && reqs[0].aborted === true, reqs);
try { await client.experimental.tasks.cancelTask(taskId); check('cancelling it again is refused', false); }
catch (e) { check('cancelling it again is refused with -32602', e.code === -32602, { code: e.code, message: e.message }); }
try { await client.experimental.tasks.getTask('0123456789abcdef0123456789abcdef'); check('an unknown task is refused', false); }
catch (e) { check('an unknown task is refused with -32602', e.code === -32602, { code: e.code, message: e.message }); }

// a plain call stays plain
const plain = await client.callTool({ name: 'list-ml-backends', arguments: {} });
check('callTool (no task) answers as before', !plain.isError && plain.task === undefined, plain);
await client.close();
process.exit(failures ? 1 : 0);
