// console_browser.mjs — capgate's console in headless Chromium (run by console.sh).
//
//   node console_browser.mjs REST_URL MCP_URL EXPECTED_JSON [TOKEN]
//
// EXPECTED_JSON: {"routes": ["GET /v1/api/ml", ...] (from /v1/openapi.json),
//                 "tools": [names] (from the MCP adapter's tools/list),
//                 "hostile_id": N, "hostile_title": "<img ...>",
//                 "screenshot": path or null, "phone_screenshot": path or null}
// With TOKEN the gateway has inbound auth on: the page must ask for it first.
import { openBrowser, endChecks, ok, failures, waitIn } from './fixtures/browser.mjs';

const [rest, mcpUrl, expectedJson, token] = process.argv.slice(2);
// under valgrind (make test-valgrind) capgate runs ~20x slower: lib.sh's E2E_SLOW stretches the bound
const WITHIN = 1000 * Number(process.env.E2E_SLOW || 1);
const expected = JSON.parse(expectedJson);
const auth = token ? { Authorization: `Bearer ${token}` } : {};

async function mcpToolCall(name, args) {
  const h = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...auth };
  let r = await fetch(mcpUrl, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'console-e2e', version: '1' } } }) });
  const sid = r.headers.get('mcp-session-id');
  await r.text();
  if (sid) h['Mcp-Session-Id'] = sid;
  r = await fetch(mcpUrl, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  await r.text();
  r = await fetch(mcpUrl, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: args } }) });
  return r.text();
}

const b = await openBrowser();
const { page } = b;
try {
  await page.goto(`${rest}/console/`, { waitUntil: 'domcontentloaded' });
  if (token) {
    const asked = await waitIn(page, () => !document.getElementById('auth').hidden);
    ok('with inbound auth on, the page asks for the token', asked);
    await page.type('#auth-token', 'wrong-token-for-the-console');
    await page.click('#auth-form button');
    const refused = await waitIn(page, () => /refused/.test(document.getElementById('auth-error').textContent));
    ok('a wrong token is refused and the page asks again', refused);
    await page.type('#auth-token', token);
    await page.click('#auth-form button');
    const stored = await page.evaluate(() => sessionStorage.getItem('capgate-console-token'));
    ok('the token is kept in this tab (sessionStorage), not in localStorage',
       stored === token && (await page.evaluate(() => localStorage.length)) === 0);
  }
  ok('the page loads its capability', await waitIn(page, () => document.body.dataset.ready === '1', null, 8000));
  // the 401s before the token was given are the expected way in; anything from now on counts
  if (token) b.errors.splice(0, b.errors.length, ...b.errors.filter((e) => !/status of 401/.test(e)));

  // --- routes and tools as the REST and MCP adapters publish them ---------------------------
  const routes = await page.$$eval('#routes tbody tr', (rows) => rows.map((r) => r.dataset.route));
  ok(`every REST route appears (${expected.routes.length} from /v1/openapi.json)`,
     routes.length === expected.routes.length && expected.routes.every((r) => routes.includes(r)),
     `page: ${JSON.stringify(routes)}`);
  const tools = await page.$$eval('#tools .tool', (a) => a.map((t) => t.dataset.tool));
  ok(`every MCP tool appears (${expected.tools.length} from tools/list)`,
     tools.length === expected.tools.length && expected.tools.every((t) => tools.includes(t)),
     `page: ${JSON.stringify(tools)}`);
  const hints = await page.$eval('#tools .tool[data-tool="get-ml-backend"]', (t) => t.textContent);
  ok('a tool shows its hints and input schema', /read-only: yes/.test(hints) && /"id"/.test(hints), hints);
  const up = await waitIn(page, () => {
    const c = document.querySelector('#upstreams tbody tr td:nth-child(3)');
    return c && /^yes/.test(c.textContent) ? c.textContent : null;
  }, null, 5000);
  ok('the consumed API is shown answering', up, up);

  // --- the live feed: a curl-style call and an MCP call, each on the page within a second ---
  await waitIn(page, () => /live|polling/.test(document.getElementById('feed-state').textContent));
  const mode = await page.$eval('#feed-state', (e) => e.textContent);
  const unique = `/v1/api/ml/${900000 + Math.floor(Math.random() * 99999)}`;
  let t0 = Date.now();
  await (await fetch(rest + unique, { headers: auth })).text();
  const seen = await waitIn(page, (u) => [...document.querySelectorAll('#feed tbody tr')]
    .some((r) => r.dataset.adapter === 'rest' && r.textContent.includes(u)), unique, 3000);
  let took = Date.now() - t0;
  ok(`a REST call appears in the feed within a second (${took} ms, feed ${mode})`, seen && took < WITHIN);
  const row = await page.$$eval('#feed tbody tr', (rows, u) => {
    const r = rows.find((x) => x.textContent.includes(u));
    return r ? [...r.cells].map((c) => c.textContent) : null;
  }, unique);
  ok('the feed row has time, adapter, call, status, upstream status and duration',
     row && /^\d\d:\d\d:\d\d\.\d{3}$/.test(row[0]) && row[1] === 'rest' && row[2] === `GET ${unique}` &&
     row[3] === '404' && row[4] === '404' && /^\d+\.\d$/.test(row[5]), JSON.stringify(row));

  const mcpBefore = await page.$$eval('#feed tbody tr[data-adapter="mcp"]', (r) => r.length);
  t0 = Date.now();
  const mcpAnswer = await mcpToolCall('get-ml-backend', { id: 1 });
  const mcpSeen = await waitIn(page, (n) => document.querySelectorAll('#feed tbody tr[data-adapter="mcp"]').length > n &&
    document.querySelector('#feed tbody tr[data-adapter="mcp"]').textContent.includes('get-ml-backend'), mcpBefore, 3000);
  took = Date.now() - t0;
  ok(`an MCP tools/call appears in the feed within a second (${took} ms)`, mcpSeen && took < WITHIN, mcpAnswer.slice(0, 300));

  // --- the form: a tool with the hostile title, and a route ---------------------------------
  await page.select('#call-target', 'tool:get-ml-backend');
  await page.$eval('#call-args', (e, v) => { e.value = v; }, JSON.stringify({ id: expected.hostile_id }));
  await page.click('#call-submit');
  const out = await waitIn(page, () => {
    const s = document.getElementById('call-status').textContent;
    return /^HTTP/.test(s) ? document.getElementById('call-output').textContent : null;
  }, null, 5000);
  ok('a tool run from the form shows its answer', out && out.includes('structuredContent') && out.includes(`"id": ${expected.hostile_id}`),
     out && out.slice(0, 400));
  ok('the hostile title is shown as text', out && out.includes(expected.hostile_title), out && out.slice(0, 400));
  const ran = await page.evaluate(() => ({ pwned: window.__pwned === 1, imgs: document.querySelectorAll('img').length }));
  ok('the hostile title runs nothing (no element, no handler)', !ran.pwned && ran.imgs === 0, JSON.stringify(ran));

  const routeIdx = await page.$$eval('#call-target option', (o) => o.findIndex((x) => x.textContent === 'GET /v1/api/ml'));
  const routeValue = await page.$$eval('#call-target option', (o, i) => o[i] && o[i].value, routeIdx);
  await page.select('#call-target', routeValue);
  await page.$eval('#call-args', (e) => { e.value = '{"project": 1}'; });
  await page.$eval('#call-status', (e) => { e.textContent = ''; });
  await page.click('#call-submit');
  const rout = await waitIn(page, () => /^HTTP/.test(document.getElementById('call-status').textContent)
    ? document.getElementById('call-status').textContent + '\n' + document.getElementById('call-output').textContent : null, null, 5000);
  ok('a route called from the form shows its answer', rout && /^HTTP 200/.test(rout) && rout.includes('"project": 1'), rout && rout.slice(0, 300));
  await page.$eval('#call-args', (e) => { e.value = '[1,'; });
  await page.click('#call-submit');
  const bad = await waitIn(page, () => /JSON object/.test(document.getElementById('call-status').textContent));
  ok('arguments that are not a JSON object get a clear message', bad);

  // --- stats: the calls above are counted ---------------------------------------------------
  const stats = await waitIn(page, () => {
    const r = document.getElementById('stat-rate').textContent;
    const bars = document.querySelectorAll('#chart-rate rect').length;
    return r !== '–' && Number(r) > 0 && bars > 0 ? { r, bars, lat: document.getElementById('stat-latency').textContent } : null;
  }, null, 5000);
  ok('request rate, errors and latency over the last minute are drawn', stats && /ms$/.test(stats.lat), JSON.stringify(stats));

  if (expected.screenshot) await page.screenshot({ path: expected.screenshot, fullPage: true });

  // --- phone width -------------------------------------------------------------------------
  await endChecks(b, expected.phone_screenshot);
} catch (e) {
  ok('console browser run', false, e.stack);
} finally {
  await b.close();
}
process.exit(failures ? 1 : 0);
