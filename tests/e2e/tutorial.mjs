// tutorial.mjs — the Naftiko reference engine's 11-step "shipyard" tutorial, run end to end by
// capgate: each step's spec (unchanged, from TUTORIAL_DIR) is staged in a scratch directory
// with a shared/secrets.yaml of our own, served by `capgate serve` (or `capgate mcp --stdio`)
// in front of tests/e2e/fixtures/shipyard-upstream.mjs, and driven with the official MCP SDK
// client and plain HTTP. Outputs are checked field by field, and so is what reached upstream.
//
//   node tutorial.mjs CAPGATE TUTORIAL_DIR
//
// Prints "ok - NAME" / "not ok - NAME" per check (tests/e2e/lib.sh conventions).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startShipyard } from './fixtures/shipyard-upstream.mjs';

const [capgate, tutorialDir] = process.argv.slice(2);
const SECRETS = { 'registry-bearer-token': 'reg-tok-e2e', 'registry-api-version': '2026-01',
  'mcp-server-token': 'mcp-tok-e2e', 'dockyard-api-key': 'dock-key-e2e' };
let failures = 0;
function check(name, cond, detail) {
  if (cond) console.log(`ok - ${name}`);
  else { failures++; console.log(`not ok - ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail).slice(0, 700)}`); }
}
const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The ports capgate serve announces in its "serving ..." log line (tests/e2e/lib.sh's port
// rule: every port is the kernel's pick, read back from the log), or null after ms.
async function announcedPorts(log, ms = 8000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
    const line = /"msg":"serving [^\n]*/.exec(log());
    if (!line) continue;
    const port = (re) => { const m = re.exec(line[0]); return m ? Number(m[1]) : undefined; };
    return { rest: port(/REST on http:\/\/127\.0\.0\.1:(\d+)/), mcp: port(/MCP on http:\/\/127\.0\.0\.1:(\d+)\/mcp/) };
  }
  return null;
}

function stage() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capgate-tutorial-'));
  fs.cpSync(tutorialDir, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'shared', 'secrets.yaml'),
    Object.entries(SECRETS).map(([k, v]) => `${k}: "${v}"`).join('\n') + '\n');
  return dir;
}

const up = await startShipyard();
const upstreamArgs = ['--upstream', `registry=${up.url}/registry`, '--upstream', `legacy=${up.url}/legacy`];

// Serves one step; returns { mcp, rest, stop }.
async function serve(dir, spec) {
  const proc = spawn(capgate, ['serve', '--threads', '1', '--listen', '127.0.0.1:0',
    '--mcp-port', '0', '--mcp-allow-host', '*', ...upstreamArgs, spec],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const ports = await announcedPorts(() => log);
  if (!ports) console.log(`# capgate serve ${spec} did not start: ${log.slice(0, 500)}`);
  const { rest: restPort, mcp: mcpPort } = ports || {};
  return { mcp: `http://127.0.0.1:${mcpPort}/mcp`, rest: `http://127.0.0.1:${restPort}`,
    log: () => log,
    stop: () => proc.exitCode !== null || proc.signalCode ? Promise.resolve()
      : new Promise((r) => { proc.once('exit', r); proc.kill('SIGTERM'); }) };
}

async function connect(url, token = SECRETS['mcp-server-token']) {
  const client = new Client({ name: 'capgate-tutorial', version: '1.0.0' });
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}
const structured = (r) => r.structuredContent && ('items' in r.structuredContent && Object.keys(r.structuredContent).length === 1
  ? r.structuredContent.items : r.structuredContent);
const lastUp = (pred) => [...up.requests].reverse().find(pred);

const SHIP1 = { imo: 'IMO-1000001', name: 'Aurora Borealis', type: 'cargo', flag: 'NO', status: 'active' };
const SHIP2 = { imo: 'IMO-1000002', name: 'Coral Sea', type: 'tanker', flag: 'SG', status: 'maintenance' };

async function step(n, file, body) {
  const dir = stage();
  const s = await serve(dir, file);
  try { await body(s, dir); }
  catch (e) { check(`step ${n}: ran without an exception`, false, { error: String(e), log: s.log().slice(-400) }); }
  finally { await s.stop(); fs.rmSync(dir, { recursive: true, force: true }); }
}

// 1 — mock: answers from static values, no upstream at all
await step(1, 'step-1-shipyard-mock.yml', async (s) => {
  const n = up.requests.length;
  const c = await connect(s.mcp);
  const r = await c.callTool({ name: 'get-ship', arguments: { imo_number: 'IMO-4242' } });
  check('step 1: the mock answers {imo (from the argument), name, type, flag, status}',
    !r.isError && eq(structured(r), { imo: 'IMO-4242', name: 'Northern Star', type: 'cargo', flag: 'NO', status: 'active' }), r);
  check('step 1: nothing reached an upstream', up.requests.length === n);
  await c.close();
});

// 2 — wiring: the registry through MCP, with output shaping of the list
await step(2, 'step-2-shipyard-wiring.yml', async (s) => {
  const c = await connect(s.mcp);
  const { tools } = await c.listTools();
  check('step 2: tools list-ships and get-ship', eq(tools.map((t) => t.name), ['list-ships', 'get-ship']), tools.map((t) => t.name));
  const r = await c.callTool({ name: 'list-ships', arguments: { status: 'active' } });
  check('step 2: list-ships?status=active → only the active ship, shaped', eq(structured(r), [SHIP1]), r);
  check('step 2: the status filter reached the registry', lastUp((q) => q.path === '/registry/ships')?.query === '?status=active');
  await c.close();
});

// 3 — auth: bearer to the registry from a bind file, a version header, inbound bearer on MCP
await step(3, 'step-3-shipyard-auth.yml', async (s) => {
  const c = await connect(s.mcp);
  await c.callTool({ name: 'get-ship', arguments: { imo: 'IMO-1000002' } });
  const q = lastUp((x) => x.path === '/registry/ships/IMO-1000002');
  check('step 3: the registry got Authorization: Bearer <token from shared/secrets.yaml>', q?.headers.authorization === 'Bearer reg-tok-e2e', q?.headers);
  check('step 3: and Registry-Version from the bind file', q?.headers['registry-version'] === '2026-01', q?.headers);
  await c.close();
  const res = await fetch(s.mcp, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }) });
  check('step 3: the MCP adapter refuses a caller without its bearer token (401)', res.status === 401, res.status);
});

// 4 — output shaping: nested objects, renamed fields, unmapped fields dropped
await step(4, 'step-4-shipyard-output-shaping.yml', async (s) => {
  const c = await connect(s.mcp);
  const r = await c.callTool({ name: 'get-ship', arguments: { imo: 'IMO-1000001' } });
  const v = structured(r);
  check('step 4: get-ship shaped to imo, name, type, flag, status', v && eq([v.imo, v.name, v.type, v.flag, v.status], Object.values(SHIP1)), r);
  check('step 4: nested specs {yearBuilt, tonnage, length}', eq(v?.specs, { yearBuilt: 2016, tonnage: 38000, length: 210 }), v);
  check('step 4: upstream-only fields are gone', v && !('internal' in v) && !('imo_number' in v), v);
  const l = await c.callTool({ name: 'list-ships', arguments: {} });
  check('step 4: list-ships shaped element by element', eq(structured(l), [SHIP1, SHIP2]), l);
  const miss = await c.callTool({ name: 'get-ship', arguments: { imo: 'IMO-0' } });
  check('step 4: an upstream 404 is an MCP tool error', miss.isError === true, miss);
  await c.close();
});

// 5 — multi-source: the legacy dockyard's XML, converted and shaped; its apikey header
await step(5, 'step-5-shipyard-multi-source.yml', async (s) => {
  const c = await connect(s.mcp);
  const r = await c.callTool({ name: 'list-legacy-vessels', arguments: {} });
  check('step 5: XML vessels converted and shaped', eq(structured(r), [
    { vesselCode: 'LD-1', name: 'Old Faithful', type: 'tug', flag: 'PT', status: 'active' },
    { vesselCode: 'LD-2', name: 'Rusty Anchor', type: 'barge', flag: 'PT', status: 'laid_up' }]), r);
  const q = lastUp((x) => x.path === '/legacy/vessels');
  check('step 5: the dockyard got X-Dock-Key as written (no Label Studio rules)', q?.headers['x-dock-key'] === 'dock-key-e2e', q?.headers);
  await c.close();
});

// 6 — write operations: a JSON body template with a list
await step(6, 'step-6-shipyard-write-operations.yml', async (s) => {
  const c = await connect(s.mcp);
  const args = { shipImo: 'IMO-1000001', departurePort: 'Bergen', arrivalPort: 'Lisbon',
    departureDate: '2026-03-01', arrivalDate: '2026-03-09', crewIds: ['CR-1', 'CR-2'], cargoIds: ['CG-7'] };
  const r = await c.callTool({ name: 'create-voyage', arguments: args });
  const q = lastUp((x) => x.path === '/registry/voyages' && x.method === 'POST');
  let sent = null;
  try { sent = JSON.parse(q.body); } catch { /* checked below */ }
  check('step 6: the registry got the body the template builds, lists as JSON', eq(sent, args), q?.body);
  check('step 6: create-voyage answers the new voyage', !r.isError && JSON.stringify(r).includes('VOY-78'), r);
  await c.close();
});

// 7 — orchestrated lookup: two calls and a lookup, mapped
await step(7, 'step-7-shipyard-orchestrated-lookup.yml', async (s) => {
  const c = await connect(s.mcp);
  const r = await c.callTool({ name: 'get-ship-with-crew', arguments: { imo: 'IMO-1000001' } });
  const v = structured(r);
  check('step 7: ship fields mapped from the get-ship step', v && v.imo === 'IMO-1000001' && v.name === 'Aurora Borealis' && v.tonnage === 38000 && v.length === 210, v);
  check('step 7: crew looked up in the ship\'s order, only fullName and role',
    eq(v?.crew, [{ fullName: 'Ola Berg', role: 'engineer' }, { fullName: 'Ines Duarte', role: 'captain' }]), v);
  const rest = await (await fetch(`${s.rest}/ships/IMO-1000001/crew`)).json();
  check('step 7: the same orchestration on the REST adapter', eq(rest, v), rest);
  await c.close();
});

// 8 — skill groups: the skill catalog (served on the skill adapter)
await step(8, 'step-8-shipyard-skill-groups.yml', async (s) => {
  const c = await connect(s.mcp);
  const { tools } = await c.listTools();
  check('step 8: the MCP tools are still served', tools.length === 5, tools.map((t) => t.name));
  await c.close();
});

// 9 — aggregates: a shared function referenced by a tool, hints from its semantics
await step(9, 'step-9-shipyard-aggregates.yml', async (s) => {
  const c = await connect(s.mcp);
  const { tools } = await c.listTools();
  const t = tools.find((x) => x.name === 'get-ship-with-crew');
  check('step 9: the ref tool is read-only and idempotent (from the function\'s semantics)',
    t?.annotations?.readOnlyHint === true && t?.annotations?.idempotentHint === true, t?.annotations);
  const r = await c.callTool({ name: 'get-ship-with-crew', arguments: { imo: 'IMO-1000002' } });
  check('step 9: the function\'s steps run for the tool', eq(structured(r)?.crew, [{ fullName: 'Mei Tan', role: 'officer' }]), r);
  await c.close();
});

// 10 — the REST adapter beside MCP
await step(10, 'step-10-shipyard-rest-adapter.yml', async (s) => {
  let res = await fetch(`${s.rest}/ships?status=maintenance`);
  check('step 10: GET /ships?status=maintenance shaped', res.status === 200 && eq(await res.json(), [SHIP2]));
  res = await fetch(`${s.rest}/ships/IMO-1000001`);
  const v = await res.json();
  check('step 10: GET /ships/{imo} shaped', v.imo === 'IMO-1000001' && eq(v.specs, { yearBuilt: 2016, tonnage: 38000, length: 210 }), v);
  res = await fetch(`${s.rest}/voyages`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ shipImo: 'IMO-1000002', departurePort: 'Oslo', arrivalPort: 'Riga', departureDate: 'd1', arrivalDate: 'd2', crewIds: ['CR-3'], cargoIds: [] }) });
  const q = lastUp((x) => x.path === '/registry/voyages' && x.method === 'POST');
  check('step 10: POST /voyages takes body fields by name into the template',
    res.status === 201 && eq(JSON.parse(q.body).crewIds, ['CR-3']) && JSON.parse(q.body).arrivalPort === 'Riga', q?.body);
});

// 11 — the fleet manifest: calls and three lookups assembled into nested objects
await step(11, 'step-11-shipyard-fleet-manifest.yml', async (s) => {
  const c = await connect(s.mcp);
  const r = await c.callTool({ name: 'get-voyage-manifest', arguments: { voyageId: 'VOY-77' } });
  const v = structured(r);
  check('step 11: voyage, status and route.from/to (dotted targets)', v?.voyageId === 'VOY-77' && v?.status === 'planned' && eq(v?.route, { from: 'Bergen', to: 'Lisbon' }), v);
  check('step 11: the ship resolved through the consumed output imo-number', eq(v?.ship, { name: 'Aurora Borealis', type: 'cargo', flag: 'NO' }), v);
  check('step 11: crew and cargo resolved', eq(v?.crew, [{ fullName: 'Ines Duarte', role: 'captain' }]) &&
    v?.cargo?.[0]?.type === 'containers' && v?.cargo?.[0]?.weight === 1200, v);
  await c.close();
});

// stdio: step 4's tools from a desktop-style client (one upstream: the registry)
{
  const dir = stage();
  const client = new Client({ name: 'capgate-tutorial-stdio', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: capgate, cwd: dir,
    args: ['mcp', '--stdio', '--upstream', `${up.url}/registry`, 'step-4-shipyard-output-shaping.yml'], stderr: 'ignore' }));
  const r = await client.callTool({ name: 'get-ship', arguments: { imo: 'IMO-1000002' } });
  const v = structured(r);
  check('stdio: step 4 get-ship shaped the same way', v && v.name === 'Coral Sea' && eq(v.specs, { yearBuilt: 2019, tonnage: 61000, length: 250 }), r);
  await client.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

await up.close();
process.exit(failures ? 1 : 0);
