// mcp_2026_client.mjs — drives capgate with the v2 split client @modelcontextprotocol/client
// 2.4.0: pinned to 2026-07-28 (stateless, server/discover first), in 'auto' mode (probes,
// stays modern) and in its default mode (the 2025 initialize handshake, a session).
//
//   node mcp_2026_client.mjs http  MCP_URL STUDIO_URL
//   node mcp_2026_client.mjs stdio CAPGATE SPEC STUDIO_URL
//
// STUDIO_URL is tests/e2e/fixtures/fake-studio.mjs, which records what capgate sent, so the
// checks look at both ends. Prints "ok - NAME" / "not ok - NAME" (tests/e2e/lib.sh).
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { check, checkRejects, failed, sleep, studioRecord, TOOLS } from './fixtures/checks.mjs';

const [mode, ...args] = process.argv.slice(2);
const studio = mode === 'http' ? args[1] : args[2];
const { requests: upstream, reset: resetUpstream } = studioRecord(studio);

function transportFor(kind) {
  if (mode === 'http') {
    const init = kind.startsWith('own') ? { requestInit: { headers: { Authorization: 'Token caller-own-key' } } } : {};
    return new StreamableHTTPClientTransport(new URL(args[0]), init);
  }
  const [capgate, spec] = args;
  return new StdioClientTransport({
    command: capgate, args: ['mcp', '--stdio', '--upstream', studio, spec],
    env: { ...process.env, LABEL_STUDIO_API_KEY: 'e2e-configured-key' }, stderr: 'ignore',
  });
}

async function connect(negotiation, kind = 'configured', versions = undefined) {
  const options = negotiation ? { versionNegotiation: { mode: negotiation } } : {};
  if (versions) options.supportedProtocolVersions = versions;
  const client = new Client({ name: 'capgate-e2e-v2', version: '2.4.0' }, options);
  await client.connect(transportFor(kind));
  return client;
}

async function toolChecks(client, tag) {
  const { tools } = await client.listTools();
  check(`${tag}: tools/list lists the 9 tools in spec order`,
    JSON.stringify(tools.map((t) => t.name)) === JSON.stringify(TOOLS), tools.map((t) => t.name));
  check(`${tag}: every tool has a title and an output schema`,
    tools.every((t) => t.title && t.outputSchema && t.outputSchema.type === 'object'), tools);

  await resetUpstream();
  let r = await client.callTool({ name: 'get-model-versions', arguments: { id: 1 } });
  check(`${tag}: tools/call get-model-versions returns the versions (validated against its output schema)`,
    !r.isError && JSON.stringify(r.structuredContent?.versions) === '["v1","v2"]' && r.content?.[0]?.type === 'text', r);
  const up = await upstream();
  check(`${tag}:   ... which reached the upstream as GET /api/ml/1/versions with the configured key`,
    up.length === 1 && up[0].method === 'GET' && up[0].path === '/api/ml/1/versions'
      && up[0].authorization === 'Token e2e-configured-key', up);

  r = await client.callTool({ name: 'get-ml-backend', arguments: { id: 404 } });
  check(`${tag}: an upstream 404 is isError with the status`,
    r.isError === true && r.structuredContent?.status === 404, r);
  await checkRejects(`${tag}: an unknown tool is JSON-RPC error -32602`,
    client.callTool({ name: 'no-such-tool', arguments: {} }), (e) => e.code === -32602);

  const progress = [];
  r = await client.callTool({ name: 'get-ml-backend', arguments: { id: 777 } },
    { onprogress: (p) => progress.push(p), timeout: 10000 });
  check(`${tag}: a call with a progressToken gets progress, then its result`,
    !r.isError && r.structuredContent?.id === 777 && progress.length >= 1, { progress, r });

  await resetUpstream();
  const ac = new AbortController();
  const pending = client.callTool({ name: 'get-ml-backend', arguments: { id: 777 } }, { signal: ac.signal });
  await sleep(300);
  ac.abort('test cancels');
  await checkRejects(`${tag}: an aborted call rejects on the client`, pending, () => true);
  await sleep(400);
  const after = await upstream();
  check(`${tag}: aborting the call aborts the upstream request`,
    after.length === 1 && after[0].aborted === true, after);
}

async function main() {
  const t = mode;
  // --- pinned to 2026-07-28 -----------------------------------------------------------------------
  let client = await connect({ pin: '2026-07-28' });
  check(`${t} pinned: the era is modern at 2026-07-28`,
    client.getProtocolEra() === 'modern' && client.getNegotiatedProtocolVersion() === '2026-07-28',
    { era: client.getProtocolEra(), v: client.getNegotiatedProtocolVersion() });
  const d = client.getDiscoverResult();
  check(`${t} pinned: server/discover lists 2026-07-28 first and the 2025 revisions`,
    JSON.stringify(d?.supportedVersions) === '["2026-07-28","2025-11-25","2025-06-18","2025-03-26"]', d);
  check(`${t} pinned: serverInfo is named after the namespace, titled by info.label`,
    client.getServerVersion()?.name === 'label-studio-subpackage-ml-mcp' && client.getServerVersion()?.title === 'API Reference — subpackage_ml',
    client.getServerVersion());
  check(`${t} pinned: capabilities are tools (no logging in 2026-07-28)`,
    client.getServerCapabilities()?.tools && !client.getServerCapabilities()?.logging, client.getServerCapabilities());
  await toolChecks(client, `${t} pinned`);
  await client.close();

  // --- 'auto': probes with server/discover and stays modern ---------------------------------------
  client = await connect('auto');
  check(`${t} auto: the probe finds the modern era`, client.getProtocolEra() === 'modern'
    && client.getNegotiatedProtocolVersion() === '2026-07-28', { era: client.getProtocolEra() });
  const { tools } = await client.listTools();
  check(`${t} auto: tools/list works`, tools.length === 9, tools.length);
  await client.close();

  // --- default mode: the 2025 handshake, a session -------------------------------------------------
  client = await connect(undefined);
  check(`${t} default: initialize negotiates 2025-11-25 (legacy era)`,
    client.getProtocolEra() === 'legacy' && client.getNegotiatedProtocolVersion() === '2025-11-25',
    { era: client.getProtocolEra(), v: client.getNegotiatedProtocolVersion() });
  check(`${t} default: logging is declared in a 2025 session`, !!client.getServerCapabilities()?.logging);
  await toolChecks(client, `${t} default`);
  const pong = await client.ping();
  check(`${t} default: ping answers {}`, pong && Object.keys(pong).length === 0, pong);
  await client.close();

  // --- -32022 as a dual-era client reads it --------------------------------------------------------
  // a client whose first choice is a revision capgate does not speak gets -32022 with
  // data.supported and continues at 2026-07-28 (the SDK's "corrective" step)
  client = await connect('auto', 'configured', ['2099-01-01', '2026-07-28', '2025-11-25']);
  check(`${t} auto, first choice 2099-01-01: -32022 leads it to 2026-07-28`,
    client.getProtocolEra() === 'modern' && client.getNegotiatedProtocolVersion() === '2026-07-28',
    { era: client.getProtocolEra(), v: client.getNegotiatedProtocolVersion() });
  await client.close();
  // one with no modern revision in common: the spec says retry with an advertised version
  // it has (2025-11-25, through initialize); SDK 2.4.0 stops instead when data.supported
  // lists any modern revision (docs/mcp.md notes it). What capgate answers is checked here.
  try {
    client = await connect('auto', 'configured', ['2099-01-01', '2025-11-25']);
    check(`${t} auto, 2099-01-01 + 2025-11-25: connects`, true);
    await client.close();
  } catch (e) {
    check(`${t} auto, 2099-01-01 + 2025-11-25: -32022 whose data.supported offers 2025-11-25`,
      e.code === -32022 && e.data?.supported?.includes('2025-11-25') && e.data?.requested === '2099-01-01',
      { code: e.code, data: e.data, message: e.message });
  }

  if (mode === 'http') {
    // the caller's own Authorization, stateless too
    client = await connect({ pin: '2026-07-28' }, 'own');
    await resetUpstream();
    const r = await client.callTool({ name: 'get-model-versions', arguments: { id: 1 } });
    const up = await upstream();
    check('http pinned: the request\'s own Authorization is forwarded upstream',
      !r.isError && up.length === 1 && up[0].authorization === 'Token caller-own-key', up);
    await client.close();
  }
}

main().catch((e) => check(`${mode}: unexpected error`, false, e.stack))
  .finally(() => process.exit(failed() ? 1 : 0));
