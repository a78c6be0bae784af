// studio_page_browser.mjs — studio's page at / in headless Chromium (run by studio_page.sh).
//
//   node studio_page_browser.mjs STUDIO_URL KEY EXPECTED_JSON
//
// EXPECTED_JSON: {"project": id, "tasks": N, "annotations": N, "backend": id,
//                 "hostile": "<img ...>", "screenshot": path or null}
import { openBrowser, endChecks, ok, failures, sleep, waitIn } from './fixtures/browser.mjs';

const [studio, key, expectedJson] = process.argv.slice(2);
const x = JSON.parse(expectedJson);
const b = await openBrowser();
const { page } = b;
try {
  await page.goto(`${studio}/`, { waitUntil: 'domcontentloaded' });
  ok('the page asks for studio\'s API key', await waitIn(page, () => !document.getElementById('auth').hidden));
  await page.type('#auth-key', key);
  await page.click('#auth-form button');
  ok('with the key, the page loads projects', await waitIn(page, () => document.body.dataset.ready === '1', null, 8000));
  // only the 401 before the key was given is expected
  b.errors.splice(0, b.errors.length, ...b.errors.filter((e) => !/status of 401/.test(e)));

  const proj = `.project[data-project="${x.project}"]`;
  const counts = await page.$eval(proj, (p) => ({
    title: p.querySelector('h2').textContent, tasks: p.querySelector('.tasks').textContent,
    anns: p.querySelector('.annotations').textContent, preds: p.querySelector('.predictions').textContent }));
  ok('the project shows its title as text and its counts from the database',
     counts.title === x.hostile && counts.tasks === String(x.tasks) && counts.anns === String(x.annotations) && counts.preds === '0',
     JSON.stringify(counts));
  const be = `.backend[data-backend="${x.backend}"]`;
  const backend = await waitIn(page, (s) => {
    const n = document.querySelector(s);
    return n && /versions:/.test(n.querySelector('.versions').textContent) ? {
      title: n.querySelector('h3').textContent, state: n.querySelector('.badge').textContent,
      version: n.querySelector('.version').textContent, versions: n.querySelector('.versions').textContent } : null;
  }, be, 5000);
  ok('the ML backend shows its title, state and model versions',
     backend && backend.title === x.hostile && backend.state === 'Connected' && backend.version === x.model_version &&
     backend.versions === 'versions: ' + x.versions.join(', '), JSON.stringify(backend));

  await page.evaluate(() => { window.__sameDocument = 'yes'; });
  await page.click(`${be} button.predict`);
  const seen = new Set();
  let final = null;
  const t0 = Date.now();
  while (Date.now() - t0 < 60000) {
    const s = await page.$eval(`${be} [role="progressbar"]`, (bar) => ({
      now: Number(bar.getAttribute('aria-valuenow')), max: Number(bar.getAttribute('aria-valuemax')),
      status: bar.closest('.run').dataset.status, text: bar.closest('.run').querySelector('.run-text').textContent }));
    if (s.max) seen.add(s.now);
    if (s.status === 'completed') { final = s; break; }
    await sleep(100);
  }
  const values = [...seen].sort((a, c) => a - c);
  ok(`the progress bar moves (${values.length} distinct values: ${values.slice(0, 6).join(', ')}...)`,
     values.filter((v) => v > 0 && v < x.tasks).length >= 2, JSON.stringify(values));
  ok(`the run completes: aria-valuenow = aria-valuemax = ${x.tasks}`, final && final.now === x.tasks && final.max === x.tasks,
     JSON.stringify(final));
  ok('the run shows tasks per second', final && /\d+\.\d tasks\/s/.test(final.text), final && final.text);
  ok('without a reload', (await page.evaluate(() => window.__sameDocument)) === 'yes');
  const preds = await waitIn(page, (s) => document.querySelector(s + ' .predictions').textContent, proj, 1000);
  const predsOk = await waitIn(page, ([s, n]) => document.querySelector(s + ' .predictions').textContent === String(n), [proj, x.tasks], 7000);
  ok('the project\'s prediction count follows', predsOk, preds);

  await page.click(`${be} button.train`);
  const trained = await waitIn(page, (s) => /training started/.test(document.querySelector(s + ' .note').textContent), be, 5000);
  ok('train asks the backend to train', trained);

  const ran = await page.evaluate(() => ({ pwned: window.__pwned === 1, imgs: document.querySelectorAll('img').length }));
  ok('the hostile titles run nothing', !ran.pwned && ran.imgs === 0, JSON.stringify(ran));
  if (x.screenshot) await page.screenshot({ path: x.screenshot, fullPage: true });
  await endChecks(b);
} catch (e) {
  ok('studio page browser run', false, e.stack);
} finally {
  await b.close();
}
process.exit(failures ? 1 : 0);
