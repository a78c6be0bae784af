// mcp_resources_client.mjs — MCP resources and prompts through the official TypeScript SDK
// client, against capgate serving tests/e2e/fixtures/catalog/capability.yaml.
//
//   node mcp_resources_client.mjs http  MCP_URL RECORD_FILE
//   node mcp_resources_client.mjs stdio CAPGATE WORKDIR UPSTREAM_URL RECORD_FILE
//
// WORKDIR is a copy of fixtures/catalog (file:///./ locations are relative to it) with an
// extra symbolic link notes/escape -> ../capability.yaml and a non-UTF-8 notes/raw.bin.
// RECORD_FILE is what fixtures/recording-upstream.js recorded, so dynamic reads are checked
// at both ends. Prints "ok - NAME" / "not ok - NAME" per check (tests/e2e/lib.sh).
import fs from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const [mode, ...args] = process.argv.slice(2);
const tag = mode;
let failures = 0;
function check(name, cond, detail) {
  if (cond) console.log(`ok - ${tag}: ${name}`);
  else { failures++; console.log(`not ok - ${tag}: ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail).slice(0, 600)}`); }
}
async function rejects(name, promise, code, re) {
  try { const r = await promise; check(name, false, { resolved: r }); }
  catch (e) { check(name, e.code === code && (!re || re.test(e.message)), { message: e.message, code: e.code }); }
}
const recordFile = mode === 'http' ? args[1] : args[3];
function recorded() {
  try { return fs.readFileSync(recordFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)); }
  catch { return []; }
}

let transport;
if (mode === 'http') {
  transport = new StreamableHTTPClientTransport(new URL(args[0]));
} else {
  transport = new StdioClientTransport({ command: args[0], args: ['mcp', '--stdio', '--upstream', args[2], 'capability.yaml'],
    cwd: args[1], stderr: 'pipe' });
}
const client = new Client({ name: 'capgate-e2e-resources', version: '1.0.0' });
await client.connect(transport);

// --- what initialize said ---------------------------------------------------------------------
const caps = client.getServerCapabilities();
check('capabilities declare resources and prompts (the spec has both)', caps.resources && caps.prompts && caps.tools, caps);
const info = client.getServerVersion();
check('serverInfo: the namespace as name, info.label as title, info.description',
  info.name === 'catalog-mcp' && info.title === 'Ship Catalog' && info.description === 'Notes, records and prompts about ships, for capgate\'s tests.', info);
check('instructions: the adapter\'s description', client.getInstructions() === 'Read the ship notes as resources; ask for a ship record by id.', client.getInstructions());

// --- tools: titles and annotations as the spec writes them ----------------------------------------
const { tools } = await client.listTools();
const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
check('a labelled tool: title and annotations.title are the label, only its two hints',
  byName['get-ship'].title === 'Get Ship' && JSON.stringify(byName['get-ship'].annotations) === '{"title":"Get Ship","readOnlyHint":true,"openWorldHint":false}',
  byName['get-ship']);
check('a tool without label or hints: no annotations, title from the first sentence',
  byName['list-ships'].annotations === undefined && byName['list-ships'].title === 'List every ship in the registry', byName['list-ships']);
check('a long first sentence is cut at a word with "..."',
  byName['remove-ship'].title === 'Remove a ship from the registry for good, with every record...'
    && JSON.stringify(byName['remove-ship'].annotations) === '{"destructiveHint":true,"idempotentHint":true}', byName['remove-ship']);

// --- resources/list and templates --------------------------------------------------------------
const { resources } = await client.listResources();
const uris = resources.map((r) => r.uri);
check('resources/list: the directory\'s files (sorted, recursive), the file, the concrete dynamic resource; no template',
  JSON.stringify(uris) === JSON.stringify(['notes://ships/data.json', 'notes://ships/guide/intro.txt', 'notes://ships/raw.bin',
    'notes://ships/readme.md', 'notes://readme', 'registry://ships']), uris);
const note = resources.find((r) => r.uri === 'notes://ships/readme.md');
check('a directory entry: the resource\'s name, title, description; mimeType from the file name',
  note.name === 'notes' && note.title === 'Ship Notes' && note.description === 'Every note about ships, one resource per file.'
    && note.mimeType === 'text/markdown', note);
check('a symbolic link in the directory is not listed', !uris.some((u) => u.includes('escape')), uris);
const fleet = resources.find((r) => r.uri === 'registry://ships');
check('the dynamic resource: name, title, mimeType as the spec says',
  fleet.name === 'fleet' && fleet.title === 'Fleet' && fleet.mimeType === 'application/json', fleet);
const { resourceTemplates } = await client.listResourceTemplates();
check('resources/templates/list: the one template with uriTemplate, name, title, mimeType',
  resourceTemplates.length === 1 && resourceTemplates[0].uriTemplate === 'registry://ships/{shipId}'
    && resourceTemplates[0].name === 'ship' && resourceTemplates[0].title === 'Ship Record'
    && resourceTemplates[0].mimeType === 'application/json', resourceTemplates);

// --- resources/read: static --------------------------------------------------------------------
let r = await client.readResource({ uri: 'notes://ships/guide/intro.txt' });
check('read a file under the directory: its text and guessed mimeType',
  r.contents.length === 1 && r.contents[0].uri === 'notes://ships/guide/intro.txt' && r.contents[0].text === 'Start with the hull.\n'
    && r.contents[0].mimeType === 'text/plain', r);
r = await client.readResource({ uri: 'notes://readme' });
check('read a single-file resource: its text with the spec\'s mimeType',
  r.contents[0].text === '# Fleet readme\n\nThree ships, all seaworthy.\n' && r.contents[0].mimeType === 'text/markdown', r);
r = await client.readResource({ uri: 'notes://ships/raw.bin' });
check('a file that is not UTF-8 comes as a base64 blob',
  r.contents[0].blob === Buffer.from([0xff, 0xfe, 0x00, 0x41]).toString('base64') && r.contents[0].text === undefined, r);
await rejects('a path with .. is refused (-32602)', client.readResource({ uri: 'notes://ships/../capability.yaml' }), -32602, /Invalid path/);
await rejects('a symbolic link leaving the location is refused (-32602)', client.readResource({ uri: 'notes://ships/escape' }), -32602, /traversal/);
await rejects('an encoded separator is refused (-32602)', client.readResource({ uri: 'notes://ships/guide%2Fintro.txt' }), -32602, /Invalid path/);
await rejects('the directory itself is not readable (-32602)', client.readResource({ uri: 'notes://ships' }), -32602, /directory/);
await rejects('a missing file (-32602)', client.readResource({ uri: 'notes://ships/nothing.md' }), -32602, /Unknown resource/);
await rejects('an unknown URI (-32602)', client.readResource({ uri: 'nowhere://x' }), -32602, /Unknown resource URI/);

// --- resources/read: dynamic -----------------------------------------------------------------------
const before = recorded().length;
r = await client.readResource({ uri: 'registry://ships' });
check('read the dynamic resource: the upstream\'s answer as text, the spec\'s mimeType',
  r.contents[0].uri === 'registry://ships' && JSON.parse(r.contents[0].text)[0].imo === '1' && r.contents[0].mimeType === 'application/json', r);
r = await client.readResource({ uri: 'registry://ships/9%2042' });
check('read through the template: the record', JSON.parse(r.contents[0].text).name === 'Aurora' && r.contents[0].uri === 'registry://ships/9%2042', r);
const sent = recorded().slice(before).map((q) => `${q.method} ${q.url}`);
check('the upstream got GET /ships, then GET /ships/9%2042 (the URI value decoded once, encoded again)',
  JSON.stringify(sent) === '["GET /ships","GET /ships/9%2042"]', sent);
await rejects('an upstream 404 is -32002 (resource not found)', client.readResource({ uri: 'registry://ships/404' }), -32002, /HTTP 404/);
await rejects('an upstream 500 is -32603', client.readResource({ uri: 'registry://ships/500' }), -32603, /HTTP 500/);
await rejects('a URI the template does not match (two segments)', client.readResource({ uri: 'registry://ships/1/2' }), -32602, /Unknown resource URI/);

// --- prompts ----------------------------------------------------------------------------------
const { prompts } = await client.listPrompts();
check('prompts/list: both prompts in spec order', JSON.stringify(prompts.map((p) => p.name)) === '["inspect-ship","review-notes"]', prompts);
const insp = prompts[0];
// (the SDK's schema drops an argument's title: mcp_resources.sh checks it on the wire)
check('a prompt\'s title, description and arguments (required as declared)',
  insp.title === 'Inspect Ship' && insp.description === 'Plan a ship inspection.'
    && JSON.stringify(insp.arguments.map((a) => [a.name, a.required, a.description])) === JSON.stringify([
      ['ship_name', true, 'The ship to inspect'], ['focus', false, 'What to look at first']]), insp);
let g = await client.getPrompt({ name: 'inspect-ship', arguments: { ship_name: 'Aurora', focus: 'the hull' } });
check('prompts/get inline: three messages, roles as written, arguments substituted',
  JSON.stringify(g.messages.map((m) => m.role)) === '["user","assistant","user"]'
    && g.messages[0].content.type === 'text' && g.messages[0].content.text === 'Plan an inspection of Aurora, starting with the hull.'
    && g.messages[2].content.text === 'Keep it to Aurora alone.', g);
g = await client.getPrompt({ name: 'inspect-ship', arguments: { ship_name: '{{focus}}' } });
check('a value is not expanded again; a missing optional argument stays as written',
  g.messages[0].content.text === 'Plan an inspection of {{focus}}, starting with {{focus}}.', g.messages[0]);
g = await client.getPrompt({ name: 'review-notes', arguments: { reviewer: 'Ana' } });
check('prompts/get from a file: one user message with the argument substituted',
  g.messages.length === 1 && g.messages[0].role === 'user'
    && g.messages[0].content.text === 'You are Ana. Review the ship notes and list what is missing. Leave {{other}} alone.\n', g);
await rejects('a missing required argument is -32602 naming it', client.getPrompt({ name: 'inspect-ship', arguments: { focus: 'x' } }), -32602, /ship_name/);
await rejects('an unknown argument is -32602 naming it', client.getPrompt({ name: 'review-notes', arguments: { reviewer: 'a', mood: 'x' } }), -32602, /mood/);
await rejects('an unknown prompt is -32602', client.getPrompt({ name: 'nope' }), -32602, /Unknown prompt/);

await client.close();
process.exit(failures ? 1 : 0);
