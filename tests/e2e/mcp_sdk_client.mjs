// mcp_sdk_client.mjs — drives capgate's MCP adapter with the official TypeScript SDK client.
//
//   node mcp_sdk_client.mjs http  MCP_URL STUDIO_URL [PAGED_MCP_URL]
//   node mcp_sdk_client.mjs stdio CAPGATE SPEC STUDIO_URL
//
// STUDIO_URL is tests/e2e/fixtures/fake-studio.mjs, which records what capgate sent, so
// every check looks at both ends: what the MCP client got and what reached the upstream.
// Prints "ok - NAME" / "not ok - NAME" per check (tests/e2e/lib.sh conventions).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { check, checkRejects, failed, sleep, studioRecord, TOOLS } from './fixtures/checks.mjs';

const [mode, ...args] = process.argv.slice(2);
const studio = mode === 'http' ? args[1] : args[2];
const { requests: upstream, reset: resetUpstream } = studioRecord(studio);
const READ_ONLY = new Set(['list-ml-backends', 'get-ml-backend', 'get-model-versions']);

async function connect(transport) {
  const client = new Client({ name: 'capgate-e2e', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

async function toolChecks(client, tag, expectAuth) {
  // --- tools/list -------------------------------------------------------------------------
  const { tools } = await client.listTools();
  check(`${tag}: tools/list lists the 9 tools by their spec names`,
    JSON.stringify(tools.map((t) => t.name)) === JSON.stringify(TOOLS), tools.map((t) => t.name));
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  // The shipped spec gives readOnly, destructive and idempotent for every tool and never
  // openWorld, so exactly those three hints appear (MCP's default applies to the fourth).
  check(`${tag}: every tool has a description, a title and exactly the three hints the spec gives`,
    tools.every((t) => t.description && t.title && t.annotations
      && JSON.stringify(Object.keys(t.annotations).sort()) === '["destructiveHint","idempotentHint","readOnlyHint"]'
      && typeof t.annotations.readOnlyHint === 'boolean' && typeof t.annotations.destructiveHint === 'boolean'
      && typeof t.annotations.idempotentHint === 'boolean'), tools.map((t) => [t.title, t.annotations]));
  check(`${tag}: a tool without a label takes its title from its description's first sentence`,
    byName['list-ml-backends'].title === 'List ML backends', byName['list-ml-backends'].title);
  check(`${tag}: readOnlyHint follows the spec's hints`,
    tools.every((t) => t.annotations.readOnlyHint === READ_ONLY.has(t.name)));
  check(`${tag}: remove-ml-backend is destructive and idempotent`,
    byName['remove-ml-backend'].annotations.destructiveHint === true && byName['remove-ml-backend'].annotations.idempotentHint === true);
  check(`${tag}: schemas are self-contained and never list credentials`,
    !JSON.stringify(tools).includes('$ref') && !JSON.stringify(tools.map((t) => t.inputSchema)).includes('Authorization'));
  const g = byName['get-ml-backend'].inputSchema;
  check(`${tag}: get-ml-backend takes id: integer, required, nothing else`,
    g.type === 'object' && g.properties.id.type === 'integer' && JSON.stringify(g.required) === '["id"]'
      && g.additionalProperties === false && Object.keys(g.properties).length === 1, g);
  check(`${tag}: list-ml-backends takes an optional integer project`,
    byName['list-ml-backends'].inputSchema.properties.project.type === 'integer' && !byName['list-ml-backends'].inputSchema.required);
  check(`${tag}: create-predictions-all-tasks takes id and an integer batch_size`,
    byName['create-predictions-all-tasks'].inputSchema.properties.batch_size.type === 'integer');
  check(`${tag}: add-ml-backend takes a body object`,
    byName['add-ml-backend'].inputSchema.properties.body.type === 'object');

  // --- the 9 tools ---------------------------------------------------------------------------
  await resetUpstream();
  let r = await client.callTool({ name: 'list-ml-backends', arguments: { project: 1 } });
  let up = await upstream();
  check(`${tag}: list-ml-backends wraps the upstream array as structuredContent.items`,
    !r.isError && Array.isArray(r.structuredContent?.items) && r.structuredContent.items.every((b) => b.project === 1)
      && r.structuredContent.items.length >= 1, r);
  check(`${tag}: list-ml-backends text is the upstream JSON`,
    JSON.stringify(JSON.parse(r.content[0].text)) === JSON.stringify(r.structuredContent.items), r.content);
  check(`${tag}: list-ml-backends sent GET /api/ml/?project=1 with the credential`,
    up.length === 1 && up[0].method === 'GET' && up[0].path === '/api/ml/' && up[0].query.project === '1'
      && up[0].authorization === expectAuth, up);

  r = await client.callTool({ name: 'add-ml-backend', arguments: { body: { url: 'http://127.0.0.1:9999', project: 1, title: `from ${tag}` } } });
  const newId = r.structuredContent?.id;
  check(`${tag}: add-ml-backend creates a backend (upstream 201 → structuredContent)`,
    !r.isError && Number.isInteger(newId) && r.structuredContent.title === `from ${tag}`, r);
  up = await upstream();
  check(`${tag}: add-ml-backend POSTed the body as JSON`,
    up[1]?.method === 'POST' && up[1].body?.title === `from ${tag}` && /application\/json/.test(up[1].contentType ?? ''), up[1]);

  r = await client.callTool({ name: 'get-ml-backend', arguments: { id: newId } });
  check(`${tag}: get-ml-backend returns that backend`, !r.isError && r.structuredContent?.id === newId, r);

  r = await client.callTool({ name: 'update-ml-backend', arguments: { id: newId, body: { title: 'renamed' } } });
  up = await upstream();
  check(`${tag}: update-ml-backend PATCHes /api/ml/{id}`,
    !r.isError && r.structuredContent?.title === 'renamed' && up.at(-1).method === 'PATCH' && up.at(-1).path === `/api/ml/${newId}`, { r, last: up.at(-1) });

  r = await client.callTool({ name: 'request-interactive-annotation', arguments: { id: 1, body: { task: 1, context: null } } });
  up = await upstream();
  check(`${tag}: request-interactive-annotation posts to /interactive-annotating`,
    !r.isError && r.structuredContent?.data?.result?.length === 1 && up.at(-1).path === '/api/ml/1/interactive-annotating' && up.at(-1).body?.task === 1, r);

  r = await client.callTool({ name: 'create-predictions-all-tasks', arguments: { id: 1, batch_size: 5 } });
  up = await upstream();
  check(`${tag}: create-predictions-all-tasks sends batch_size in the query`,
    !r.isError && up.at(-1).method === 'POST' && up.at(-1).path === '/api/ml/1/predict' && up.at(-1).query.batch_size === '5', { r, last: up.at(-1) });

  r = await client.callTool({ name: 'train', arguments: { id: 1, body: { use_ground_truth: true } } });
  check(`${tag}: train answers with the upstream's job`, !r.isError && r.structuredContent?.job_id === 'train-1', r);

  r = await client.callTool({ name: 'get-model-versions', arguments: { id: 1 } });
  check(`${tag}: get-model-versions lists versions`,
    !r.isError && JSON.stringify(r.structuredContent?.versions) === '["v1","v2"]', r);

  r = await client.callTool({ name: 'remove-ml-backend', arguments: { id: newId } });
  up = await upstream();
  check(`${tag}: remove-ml-backend: upstream 204 is a success that says so`,
    !r.isError && r.content.length === 1 && r.content[0].text.includes('HTTP 204') &&
      JSON.stringify(r.structuredContent) === '{}'
      && up.at(-1).method === 'DELETE' && up.at(-1).path === `/api/ml/${newId}`, r);

  r = await client.callTool({ name: 'get-ml-backend', arguments: { id: newId } });
  check(`${tag}: an upstream 404 is isError with the status and the upstream body`,
    r.isError === true && r.content[0].text.includes('404') && r.content[0].text.includes('Not found.')
      && r.structuredContent?.status === 404, r);
  r = await client.callTool({ name: 'get-ml-backend', arguments: { id: 500 } });
  check(`${tag}: an upstream 500 is isError with status 500`, r.isError === true && r.structuredContent?.status === 500, r);

  // --- argument checking: nothing reaches the upstream ---------------------------------------
  await resetUpstream();
  r = await client.callTool({ name: 'get-ml-backend', arguments: { id: 'abc' } });
  check(`${tag}: a string id is a tool error naming id`, r.isError === true && r.content[0].text.includes("'id'"), r);
  r = await client.callTool({ name: 'get-ml-backend', arguments: { id: 1.5 } });
  check(`${tag}: a fractional id is a tool error naming id`, r.isError === true && r.content[0].text.includes("'id'"), r);
  r = await client.callTool({ name: 'get-ml-backend', arguments: {} });
  check(`${tag}: a missing id is a tool error naming id`, r.isError === true && /missing.*'id'/.test(r.content[0].text), r);
  r = await client.callTool({ name: 'get-ml-backend', arguments: { id: 1, Authorization: 'Token x' } });
  check(`${tag}: credentials are not arguments (unknown argument 'Authorization')`,
    r.isError === true && r.content[0].text.includes("'Authorization'"), r);
  r = await client.callTool({ name: 'update-ml-backend', arguments: { id: 1, body: [1, 2] } });
  check(`${tag}: a body that is not an object is a tool error naming body`, r.isError === true && r.content[0].text.includes("'body'"), r);
  up = await upstream();
  check(`${tag}: bad arguments never reach the upstream`, up.length === 0, up);
  r = await client.callTool({ name: 'get-ml-backend', arguments: { id: '2' } });
  up = await upstream();
  check(`${tag}: a strict integer string is accepted as an integer`, !r.isError && r.structuredContent?.id === 2 && up.at(-1)?.path === '/api/ml/2', r);
  await checkRejects(`${tag}: an unknown tool is JSON-RPC error -32602`,
    client.callTool({ name: 'no-such-tool', arguments: {} }), (e) => e.code === -32602);

  // --- utilities -------------------------------------------------------------------------------
  const pong = await client.ping();
  check(`${tag}: ping answers {}`, pong && Object.keys(pong).length === 0, pong);
  const lvl = await client.setLoggingLevel('debug');
  check(`${tag}: logging/setLevel answers {}`, lvl && Object.keys(lvl).length === 0, lvl);
  await checkRejects(`${tag}: logging/setLevel refuses an unknown level`,
    client.request({ method: 'logging/setLevel', params: { level: 'loud' } }, (await import('@modelcontextprotocol/sdk/types.js')).EmptyResultSchema),
    (e) => e.code === -32602);

  const progress = [];
  r = await client.callTool({ name: 'get-ml-backend', arguments: { id: 777 } }, undefined,
    { onprogress: (p) => progress.push(p), timeout: 10000 });
  check(`${tag}: a call with a progressToken gets progress notifications, then its result`,
    !r.isError && r.structuredContent?.id === 777 && progress.length >= 1
      && progress.every((p, i) => i === 0 || p.progress > progress[i - 1].progress), { progress, r });

  await resetUpstream();
  const ac = new AbortController();
  const pending = client.callTool({ name: 'get-ml-backend', arguments: { id: 777 } }, undefined, { signal: ac.signal });
  await sleep(300);
  ac.abort('test cancels');
  await checkRejects(`${tag}: an aborted call rejects on the client`, pending, () => true);
  await sleep(400);
  up = await upstream();
  check(`${tag}: notifications/cancelled aborts the upstream request`, up.length === 1 && up[0].aborted === true, up);
}

async function main() {
  if (mode === 'http') {
    const [mcpUrl, , pagedUrl] = args;
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl));
    const client = await connect(transport);
    check('http: initialize negotiates 2025-11-25 and issues a session id',
      transport.sessionId && /^[0-9a-f]{64}$/.test(transport.sessionId) && transport.protocolVersion === '2025-11-25',
      { sid: transport.sessionId, v: transport.protocolVersion });
    check('http: serverInfo is named after the MCP adapter\'s namespace, titled by info.label',
      client.getServerVersion()?.name === 'label-studio-subpackage-ml-mcp' && client.getServerVersion()?.title === 'API Reference — subpackage_ml',
      client.getServerVersion());
    check('http: capabilities are tools and logging', client.getServerCapabilities()?.tools && client.getServerCapabilities()?.logging);
    await toolChecks(client, 'http', 'Token e2e-configured-key');

    // the caller's own Authorization is forwarded instead of the configured key
    const own = await connect(new StreamableHTTPClientTransport(new URL(mcpUrl),
      { requestInit: { headers: { Authorization: 'Token caller-own-key' } } }));
    await resetUpstream();
    const r = await own.callTool({ name: 'get-model-versions', arguments: { id: 1 } });
    const up = await upstream();
    check('http: the MCP request\'s own Authorization is forwarded upstream',
      !r.isError && up.length === 1 && up[0].authorization === 'Token caller-own-key', up);
    await own.close();

    // the session ends on DELETE: its id is then unknown (404)
    const sid = transport.sessionId;
    await transport.terminateSession();
    const after = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json',
      accept: 'application/json, text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
    check('http: after terminateSession the old session id gets 404', after.status === 404, after.status);
    await client.close();

    if (pagedUrl) {
      const paged = await connect(new StreamableHTTPClientTransport(new URL(pagedUrl)));
      const pages = [];
      let cursor;
      do {
        const res = await paged.listTools(cursor ? { cursor } : {});
        pages.push(res.tools.map((t) => t.name));
        cursor = res.nextCursor;
      } while (cursor && pages.length < 10);
      check('http: tools/list paginates (page size 4: 4 + 4 + 1)',
        JSON.stringify(pages.map((p) => p.length)) === '[4,4,1]' && JSON.stringify(pages.flat()) === JSON.stringify(TOOLS), pages);
      await checkRejects('http: an unknown cursor is -32602', paged.listTools({ cursor: 'bogus' }), (e) => e.code === -32602);
      await paged.close();
    }
  } else if (mode === 'stdio') {
    const [capgate, spec] = args;
    const stderr = [];
    const transport = new StdioClientTransport({
      command: capgate, args: ['mcp', '--stdio', '--upstream', studio, spec],
      env: { ...process.env, LABEL_STUDIO_API_KEY: 'e2e-stdio-key' }, stderr: 'pipe',
    });
    transport.stderr?.on('data', (d) => stderr.push(String(d)));
    const client = await connect(transport);
    check('stdio: initialize over stdin/stdout, the server named after the namespace', client.getServerVersion()?.name === 'label-studio-subpackage-ml-mcp', client.getServerVersion());
    await toolChecks(client, 'stdio', 'Token e2e-stdio-key');
    await client.close();
    check('stdio: logs went to stderr as JSON lines', stderr.join('').includes('"module":"mcp"'), stderr.join('').slice(0, 300));
  } else {
    console.error('usage: mcp_sdk_client.mjs http|stdio ...');
    process.exit(2);
  }
}

main().then(() => process.exit(failed() ? 1 : 0), (e) => {
  console.log(`not ok - unexpected exception: ${e.stack ?? e}`);
  process.exit(1);
});
