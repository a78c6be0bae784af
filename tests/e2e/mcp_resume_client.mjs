// mcp_resume_client.mjs — the SDK 1.32.2 client gets its result after its stream drops.
//
//   node mcp_resume_client.mjs MCP_URL STUDIO_URL
//
// The client's fetch is wrapped: the SSE answer to a tools/call is cut right after its
// priming event (the connection to capgate is closed, as a network failure would), so the
// SDK's reconnection (reconnectionOptions) comes back with GET + Last-Event-ID. The fake
// studio answers get-ml-backend id 3000 after 3 s. Prints "ok - NAME" / "not ok - NAME".
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url, studio] = process.argv.slice(2);
let failures = 0;
function check(name, cond, detail) {
  if (cond) console.log(`ok - ${name}`);
  else { failures++; console.log(`not ok - ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail).slice(0, 600)}`); }
}

const seen = [];       // what went over the wire: {method, lastEventId, status, type}
let cuts = 0;

// Passes the stream through until the first event that carries an id, then fails it.
function cutAfterPriming(body) {
  const reader = body.getReader();
  let text = '';
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) { controller.close(); return; }
      controller.enqueue(value);
      text += new TextDecoder().decode(value);
      if (/(^|\n)id: [^\n]*\n/.test(text) && text.includes('\n\n')) {
        cuts++;
        await reader.cancel();             // closes the connection to capgate
        controller.error(new TypeError('terminated: connection cut by the test'));
      }
    },
    cancel() { return reader.cancel(); },
  });
}

async function cuttingFetch(input, init = {}) {
  const res = await fetch(input, init);
  const headers = new Headers(init.headers);
  const method = init.method ?? 'GET';
  const type = res.headers.get('content-type') ?? '';
  seen.push({ method, lastEventId: headers.get('last-event-id'), status: res.status, type,
    call: typeof init.body === 'string' && init.body.includes('"tools/call"') });
  if (method === 'POST' && type.startsWith('text/event-stream') && typeof init.body === 'string'
      && init.body.includes('"tools/call"') && res.body) {
    return new Response(cutAfterPriming(res.body), { status: res.status, headers: res.headers });
  }
  return res;
}

await fetch(`${studio}/__requests`, { method: 'DELETE' });
const transport = new StreamableHTTPClientTransport(new URL(url), {
  fetch: cuttingFetch,
  reconnectionOptions: { initialReconnectionDelay: 500, maxReconnectionDelay: 2000,
    reconnectionDelayGrowFactor: 1.5, maxRetries: 3 },
});
const errors = [];
const client = new Client({ name: 'capgate-resume-e2e', version: '1.0.0' });
await client.connect(transport);
transport.onerror = (e) => errors.push(e.message);   // after connect: the Client sets its own

const t0 = Date.now();
let result, failure;
try {
  result = await client.callTool({ name: 'get-ml-backend', arguments: { id: 3000 } }, undefined,
    { timeout: 20000 });
} catch (e) { failure = e; }
const took = Date.now() - t0;

check('SDK: the call resolves after its stream was cut', result && !failure, failure?.message);
check('SDK: with the upstream\'s answer (structuredContent.id 3000, not an error)',
  result?.structuredContent?.id === 3000 && !result?.isError, result);
check('SDK: the stream really was cut once, after the priming event', cuts === 1, { cuts, seen });
const resumes = seen.filter((s) => s.method === 'GET' && s.lastEventId);
check('SDK: it came back with GET + Last-Event-ID naming the cut stream, and got 200 SSE',
  resumes.length >= 1 && /^[0-9a-f]{16}-0$/.test(resumes[0].lastEventId) && resumes[0].status === 200
    && resumes[0].type.startsWith('text/event-stream'), seen);
check('SDK: no 409 anywhere', !seen.some((s) => s.status === 409), seen);
check('SDK: the result came when the upstream answered (3 s + reconnection, < 8 s)', took < 8000, took);
const reqs = await (await fetch(`${studio}/__requests`)).json();
const calls = reqs.filter((r) => r.path === '/api/ml/3000');
check('SDK: the upstream was called once and never aborted', calls.length === 1 && !calls[0].aborted, calls);

// with a progress handler the call streams from the start (progressToken): cut again
const before = seen.length;
const progress = [];
let r2, f2;
try {
  r2 = await client.callTool({ name: 'get-ml-backend', arguments: { id: 3000 } }, undefined,
    { timeout: 20000, onprogress: (p) => progress.push(p.progress) });
} catch (e) { f2 = e; }
const resumes2 = seen.slice(before).filter((s) => s.method === 'GET' && s.lastEventId);
check('SDK: with onprogress, the cut call resolves too, with its result and progress 1',
  !f2 && r2?.structuredContent?.id === 3000 && cuts === 2 && progress.includes(1)
    && resumes2.length >= 1 && resumes2[0].status === 200, { failure: f2?.message, r2, cuts, progress, seen: seen.slice(before) });

// the session goes on as usual afterwards
const list = await client.callTool({ name: 'list-ml-backends', arguments: {} });
check('SDK: the session goes on after the resume', !list.isError, list);
await client.close();
process.exit(failures ? 1 : 0);
