// shape_sdk_client.mjs — tests/e2e/shape.sh's MCP half: the official TypeScript SDK client
// against capgate's shaped tools. The SDK itself validates each successful result's
// structuredContent against the tool's outputSchema (callTool throws when it does not
// conform); the checks here also compare the content text and structuredContent field by field.
//   node shape_sdk_client.mjs MCP_URL UPSTREAM_URL
//   node shape_sdk_client.mjs stdio UPSTREAM_URL CAPGATE SPEC
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const [url, upstream, capgate, spec] = process.argv.slice(2);
const stdio = url === 'stdio';
const tag = stdio ? 'stdio' : 'http';
let failures = 0;
function check(name, cond, detail) {
  if (cond) console.log(`ok - ${tag}: ${name}`);
  else { failures++; console.log(`not ok - ${tag}: ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail).slice(0, 600)}`); }
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

const client = new Client({ name: 'capgate-shape-e2e', version: '1.0.0' });
await client.connect(stdio
  ? new StdioClientTransport({ command: capgate, args: ['mcp', '--stdio', '--upstream', upstream, spec], stderr: 'ignore' })
  : new StreamableHTTPClientTransport(new URL(url)));
const { tools } = await client.listTools();
const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
check('tools/list: every tool with outputParameters declares an outputSchema of type object',
  tools.every((t) => t.outputSchema && t.outputSchema.type === 'object'), tools.map((t) => t.outputSchema));
const ls = byName['list-ships'].outputSchema;
check('list-ships: outputSchema wraps the array under items, element properties typed',
  ls.properties.items.type[0] === 'array' && same(Object.keys(ls.properties.items.items.properties), ['imo', 'name', 'type', 'flag', 'status'])
    && same(ls.properties.items.items.properties.imo.type, ['string', 'null']), ls);
const gs = byName['get-ship'].outputSchema;
check('get-ship: nested specs object in the outputSchema',
  same(Object.keys(gs.properties), ['imo', 'name', 'missing', 'specs']) && gs.properties.specs.properties.tonnage.type[0] === 'number', gs);
check('get-ship-raw ($. passthrough): an honest minimal schema, {type: object}',
  same(byName['get-ship-raw'].outputSchema, { type: 'object' }), byName['get-ship-raw'].outputSchema);
check('mock-ship: inputSchema from its inputParameters',
  same(byName['mock-ship'].inputSchema.required, ['imo_number']), byName['mock-ship'].inputSchema);

async function call(name, args) {
  try {
    const r = await client.callTool({ name, arguments: args });
    const text = r.content?.[0]?.text;
    let json;
    try { json = text !== undefined ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { r, text, json };
  } catch (e) { return { error: e.message }; }
}

let c = await call('list-ships', {});
check('list-ships: accepted by the SDK (structuredContent conforms)', !c.error && !c.r.isError, c.error ?? c.r);
check('list-ships: text is the shaped array',
  same(c.json, [{ imo: 'IMO-9321483', name: 'Northern Star', type: 'cargo', flag: 'NO', status: 'active' },
    { imo: 'IMO-9456781', name: 'Southern Cross', type: 'tanker', flag: 'SG', status: 'dry-dock' }]), c.json);
check('list-ships: structuredContent is {items: the same array}', same(c.r?.structuredContent, { items: c.json }), c.r?.structuredContent);

c = await call('get-ship', { imo: 'IMO-9321483' });
check('get-ship: accepted by the SDK', !c.error && !c.r.isError, c.error ?? c.r);
check('get-ship: nested answer field by field',
  same(c.json, { imo: 'IMO-9321483', name: 'Northern Star', missing: null, specs: { yearBuilt: 2015, tonnage: 42000, length: 229 } }), c.json);
check('get-ship: structuredContent equals the text', same(c.r?.structuredContent, c.json));

c = await call('get-ship-raw', { imo: 'IMO-9321483' });
const raw = await (await fetch(`${upstream}/ships/IMO-9321483`)).text();
check('get-ship-raw: text byte for byte the upstream body', !c.error && c.text === raw, c.error ?? c.text);

c = await call('fleet-csv', {});
check('fleet-csv: CSV rows shaped, tonnage integers',
  !c.error && same(c.json, [{ imo: 'IMO-9321483', tonnage: 42000 }, { imo: 'IMO-9456781', tonnage: 61000 }]), c.error ?? c.json);

c = await call('fleet-count', {});
check('fleet-count: a scalar answer, structuredContent {value}',
  !c.error && c.json === 'IMO-9321483' && same(c.r.structuredContent, { value: 'IMO-9321483' }), c.error ?? c.r);

c = await call('mock-ship', { imo_number: 'IMO-7' });
check('mock-ship: answers from static values, the template filled',
  !c.error && same(c.json, { imo: 'IMO-7', name: 'Northern Star', type: 'cargo' }), c.error ?? c.json);
c = await call('mock-ship', {});
check('mock-ship: a missing required argument is refused (isError naming it)',
  (c.r?.isError && /imo_number/.test(c.text)) || /imo_number/.test(c.error ?? ''), c);

await client.close();
process.exit(failures ? 1 : 0);
