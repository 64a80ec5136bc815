// End-to-end test of the svclab web UI in headless Chromium (Debian's /usr/bin/chromium),
// driven by playwright-core: log in, walk one exercise through its Check button from fail to
// pass, watch the topology update when a pod is added, read a node's rules, trace a packet and
// use the terminal. Every stage saves a screenshot; a failing stage also saves one and the
// page's console log. Run it against a lab with the web UI (go test ./tests/browser does):
//
//   SVCLAB_URL=http://127.0.0.1:8080 SVCLAB_TOKEN=$(cat /run/svclab/svclab/web-token) \
//   SVCLAB_KUBECONFIG=/run/svclab/svclab/kubeconfig node tests/browser/ui.spec.mjs
//
// Exit status: 0 when every stage passed, 1 when one failed, 2 on a setup error.
import { Artifacts, applySolution, chooseExercise, config, kubectl, poll, sleep } from './lib.mjs';

const tid = (id) => `[data-testid="${id}"]`;
const STATUSES = ['pass', 'fail', 'skip', 'error'];

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (err) {
  console.error(`cannot load playwright-core (${err.message}): run \`npm ci --prefix tests/browser\` ` +
    '(make test does; it needs the npm registry or its cache)');
  process.exit(2);
}

let cfg;
try {
  cfg = config();
} catch (err) {
  console.error(err.message);
  process.exit(2);
}
const art = new Artifacts(cfg.artifacts);
const consoleLog = [];
const state = {}; // what one stage leaves for the next: the exercise, the pod

// A stage that hangs despite the bounded waits still ends the run.
const watchdog = setTimeout(() => {
  console.error('browser test: the whole run took over 12 minutes; giving up');
  art.write('console.log', consoleLog.join('\n') + '\n');
  process.exit(1);
}, 12 * 60_000);
watchdog.unref();

let browser;
try {
  browser = await chromium.launch({
    executablePath: cfg.chromium,
    headless: cfg.headless,
    // Root in CI: Chromium's sandbox refuses to run as root.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    timeout: 60_000,
  });
} catch (err) {
  console.error(`cannot start Chromium at ${cfg.chromium} (${err.message.split('\n')[0]}): ` +
    'install Debian\'s chromium (make deps), or set SVCLAB_CHROMIUM');
  process.exit(2);
}
const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
context.setDefaultTimeout(15_000);
context.setDefaultNavigationTimeout(20_000);
const page = await context.newPage();
const stamp = () => new Date().toISOString().slice(11, 23);
page.on('console', (m) => consoleLog.push(`${stamp()} console.${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => consoleLog.push(`${stamp()} pageerror: ${e.stack || e.message}`));
page.on('requestfailed', (r) => consoleLog.push(`${stamp()} requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
page.on('response', (r) => { if (r.status() >= 400) consoleLog.push(`${stamp()} http ${r.status()}: ${r.request().method()} ${r.url()}`); });
page.on('websocket', (ws) => {
  consoleLog.push(`${stamp()} websocket open: ${ws.url()}`);
  ws.on('close', () => consoleLog.push(`${stamp()} websocket closed: ${ws.url()}`));
});

/** text returns an element's visible text, or its text content (SVG has no innerText). */
async function text(sel) {
  return page.locator(sel).first().evaluate((el) => el.innerText || el.textContent || '');
}

/** waitAttr waits until sel's attribute is one of want (or any value when want is empty). */
async function waitAttr(sel, attr, want, timeoutMs) {
  return poll(async () => {
    const v = await page.locator(sel).first().getAttribute(attr, { timeout: 1000 });
    return v && (!want.length || want.includes(v)) ? v : null;
  }, timeoutMs, async () => {
    const v = await page.locator(sel).first().getAttribute(attr, { timeout: 1000 }).catch(() => '(no element)');
    return `${sel} ${attr}=${v}, want ${want.length ? want.join(' or ') : 'any value'}`;
  });
}

// ---- stages ----

async function login() {
  await page.goto(cfg.url + '/');
  await page.locator(tid('token')).waitFor();
  await art.screenshot(page, 'login-page');
  // Without the token nothing but the login page is served.
  const anon = await fetch(cfg.url + '/api/topology');
  if (anon.status !== 401) throw new Error(`GET /api/topology without the token answered ${anon.status}, want 401`);
  await page.locator(tid('token')).fill(cfg.token);
  await page.locator(tid('login')).click();
  await page.locator(tid('nav-exercises')).waitFor();
  // The address `svclab up` prints, /?token=T, logs a fresh browser in too.
  const other = await browser.newContext();
  try {
    const p = await other.newPage();
    await p.goto(`${cfg.url}/?token=${encodeURIComponent(cfg.token)}`);
    await p.locator(tid('nav-exercises')).waitFor();
    if (p.url().includes('token=')) throw new Error(`after /?token= the address still holds the token: ${p.url()}`);
  } finally {
    await other.close();
  }
}

async function exerciseList() {
  await page.locator(tid('nav-exercises')).click();
  await poll(() => page.url().includes('#/exercises'), 5000, `clicking nav-exercises led to ${page.url()}`);
  state.exercise = await chooseExercise(cfg);
  const { id, all } = state.exercise;
  for (const e of all) await page.locator(tid(`exercise-${e}`)).waitFor();
  const progress = await text(tid(`progress-${id}`));
  if (!/\d/.test(progress)) throw new Error(`progress-${id} shows ${JSON.stringify(progress)}, want a count`);
  console.log(`  ${all.length} exercises listed; walking ${id}, step ${state.exercise.step} (progress "${progress.trim()}")`);
  await art.screenshot(page, 'exercise-list');
}

/** check presses a step's Check button and returns the status the page then shows. */
async function check(ex, step, timeoutMs) {
  const resp = page.waitForResponse(
    (r) => r.request().method() === 'POST' && r.url().includes(`/steps/${step}/check`), { timeout: timeoutMs });
  const t0 = Date.now();
  await page.locator(tid(`check-${step}`)).click();
  let want = STATUSES;
  try {
    const body = await (await resp).json();
    if (STATUSES.includes(body.status)) want = [body.status];
  } catch (err) {
    // The UI may call the checks another way; the page's own status is what counts.
    consoleLog.push(`${stamp()} test: no check response seen (${err.message.split('\n')[0]})`);
  }
  const status = await waitAttr(tid(`result-${step}`), 'data-status', want, want.length === 1 ? 10_000 : timeoutMs);
  console.log(`  Check ${ex}/${step}: ${status} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  return status;
}

async function exerciseWalk() {
  if (!state.exercise) throw new Error('no exercise chosen (the exercise list stage failed)');
  const { id, step, before } = state.exercise;
  await page.locator(tid('nav-exercises')).click();
  const item = page.locator(tid(`exercise-${id}`));
  await ((await item.locator('a').count()) ? item.locator('a').first() : item).click();
  await page.locator(tid(`step-${step}`)).waitFor();
  await poll(() => page.url().includes(`#/exercises/${id}`), 5000, `exercise-${id} led to ${page.url()}`);
  await page.locator(tid(`check-${step}`)).scrollIntoViewIfNeeded();

  // A failing check with `within: 60s` retries that long, and a step's checks run one after another.
  const first = await check(id, step, 300_000);
  await art.screenshot(page, `exercise-${step}-fresh`);
  if (first !== 'fail') {
    throw new Error(`on a fresh lab step ${id}/${step} shows data-status=${first}, want fail:\n${await text(tid(`result-${step}`))}`);
  }

  const out = await applySolution(cfg, id, [...before, step]);
  console.log(`  applied the reference solution of ${[...before, step].join(', ')}` + (out.trim() ? `:\n${indent(out.trim())}` : ''));

  const deadline = Date.now() + 60_000;
  let status = first;
  for (let i = 1; ; i++) {
    status = await check(id, step, 300_000);
    if (status === 'pass') break;
    if (Date.now() > deadline) {
      throw new Error(`after the reference solution step ${id}/${step} still shows data-status=${status} ` +
        `(${i} checks over 60s):\n${await text(tid(`result-${step}`))}`);
    }
    await sleep(2000);
  }
  await art.screenshot(page, `exercise-${step}-pass`);
}

async function topology() {
  await page.locator(tid('nav-topology')).click();
  await page.locator(tid('topology')).waitFor();
  await page.locator('[data-testid^="node-"]').first().waitFor();
  await page.locator(tid('svc-default-kubernetes')).waitFor();
  await art.screenshot(page, 'topology');

  // Mark the document: if the page reloads, the mark is gone.
  await page.evaluate(() => { window.__svclabNoReload = true; });
  const name = `browser-${Date.now().toString(36)}`;
  await kubectl(cfg, ['-n', 'default', 'run', name, '--image=svclab.local/agent:v1', '--labels=app=browser-test']);
  state.pod = name;
  await page.locator(tid(`pod-default-${name}`)).waitFor({ timeout: 30_000 });
  await kubectl(cfg, ['-n', 'default', 'wait', '--for=condition=Ready', `pod/${name}`, '--timeout=90s'], 100_000);
  state.podIP = await kubectl(cfg, ['-n', 'default', 'get', 'pod', name, '-o', 'jsonpath={.status.podIP}']);
  state.podNode = await kubectl(cfg, ['-n', 'default', 'get', 'pod', name, '-o', 'jsonpath={.spec.nodeName}']);
  await poll(async () => (await text(tid('topology'))).includes(state.podIP), 30_000,
    `the topology never showed the pod's IP ${state.podIP}`);
  if (!(await page.evaluate(() => window.__svclabNoReload === true))) {
    throw new Error('the page reloaded: the topology must update live (Server-Sent Events)');
  }
  await art.screenshot(page, 'topology-new-pod');
}

async function nodeRules() {
  await page.locator(tid('nav-rules')).click();
  await poll(() => page.url().includes('#/nodes/'), 5000, `nav-rules led to ${page.url()}`);
  const rulesPattern = /KUBE-SERVICES|table (ip|inet) kube-proxy|KUBE-IPVS|kube-ipvs0/;
  await poll(async () => rulesPattern.test(await text(tid('rules-text'))), 30_000,
    async () => `rules-text shows no kube-proxy rules:\n${(await text(tid('rules-text')).catch(() => '')).slice(0, 2000)}`);
  await art.screenshot(page, 'node-rules');
  if (!state.podIP) throw new Error('no pod to trace from (the topology stage failed)');

  const select = page.locator(tid('rules-node'));
  const options = await select.locator('option').evaluateAll((os) => os.map((o) => o.value || o.textContent));
  if (state.podNode && options.includes(state.podNode) && (await select.inputValue()) !== state.podNode) {
    // The page is redrawn for the chosen node: mark the old rules so only new ones count.
    await page.locator(tid('rules-text')).evaluate((el) => { el.dataset.stale = '1'; });
    await select.selectOption(state.podNode);
    await poll(() => page.url().includes(`#/nodes/${state.podNode}`), 5000, `choosing ${state.podNode} led to ${page.url()}`);
    const fresh = `${tid('rules-text')}:not([data-stale])`;
    await poll(async () => rulesPattern.test(await text(fresh)), 30_000, `no rules shown for node ${state.podNode}`);
  }
  const kubeIP = await kubectl(cfg, ['-n', 'default', 'get', 'service', 'kubernetes', '-o', 'jsonpath={.spec.clusterIP}']);
  await page.locator(tid('trace-from')).fill(state.podIP);
  await page.locator(tid('trace-to')).fill(`${kubeIP}:443`);
  await page.locator(tid('trace-run')).click();
  const verdict = await waitAttr(tid('trace-result'), 'data-verdict', [], 20_000);
  await art.screenshot(page, 'trace');
  if (verdict !== 'forwarded') {
    throw new Error(`trace ${state.podIP} -> ${kubeIP}:443 on ${state.podNode}: data-verdict=${verdict}, want forwarded:\n` +
      await text(tid('trace-result')));
  }
}

async function terminal() {
  await page.locator(tid('nav-terminal')).click();
  const term = page.locator(tid('terminal'));
  await term.waitFor();
  // Give the WebSocket a moment to open; a prompt usually appears.
  await poll(async () => (await text(tid('terminal'))).trim() !== '', 10_000, 'no prompt').catch(() => {});
  const input = term.locator('textarea, input');
  const want = /127\.0\.0\.1\/8|\blo\s+UNKNOWN/;
  for (let attempt = 1; ; attempt++) {
    if (await input.count()) await input.first().focus();
    else await term.click();
    await page.keyboard.type('ip -br addr');
    await page.keyboard.press('Enter');
    try {
      await poll(async () => want.test(await text(tid('terminal'))), 15_000, 'no output of `ip -br addr`');
      break;
    } catch (err) {
      if (attempt >= 2) throw new Error(`${err.message}; the terminal shows:\n${(await text(tid('terminal'))).slice(-2000)}`);
    }
  }
  await art.screenshot(page, 'terminal');
}

function indent(s) { return s.replace(/^/gm, '    '); }

// ---- run ----

const stages = [
  ['login', login],
  ['exercise list', exerciseList],
  ['exercise check: fail, solve, pass', exerciseWalk],
  ['topology updates live', topology],
  ['node rules and trace', nodeRules],
  ['terminal', terminal],
];
let failed = 0;
for (const [name, fn] of stages) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok    ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  } catch (err) {
    failed++;
    const shot = await art.screenshot(page, `FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}`);
    console.log(`FAIL  ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s): ${err.message}\n      url ${page.url()}, screenshot ${shot}`);
    if (name === 'login') break; // nothing else can work
  }
}
if (state.pod) {
  await kubectl(cfg, ['-n', 'default', 'delete', 'pod', state.pod, '--wait=false']).catch(() => {});
}
art.write('console.log', consoleLog.join('\n') + '\n');
await browser.close();
console.log(`browser test: ${stages.length - failed} of ${stages.length} stages ok; artifacts in ${art.dir}` +
  (failed ? ` (console log: ${art.path('console.log')})` : ''));
process.exit(failed ? 1 : 0);
