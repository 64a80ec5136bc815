// Helpers of the browser test (ui.spec.mjs): configuration from the environment, kubectl,
// the lab API, reference solutions, bounded waits and artifacts. Nothing here drives the page.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** config reads the test's settings from the environment; SVCLAB_URL and SVCLAB_TOKEN are required. */
export function config(env = process.env) {
  const missing = ['SVCLAB_URL', 'SVCLAB_TOKEN'].filter((k) => !env[k]);
  if (missing.length) {
    throw new Error(`set ${missing.join(' and ')}: the UI's address (http://127.0.0.1:PORT) and its access ` +
      `token (/run/svclab/LAB/web-token); go test ./tests/browser does this for you with a fresh lab`);
  }
  return {
    url: env.SVCLAB_URL.replace(/\/+$/, ''),
    token: env.SVCLAB_TOKEN,
    kubeconfig: env.SVCLAB_KUBECONFIG || '',
    labName: env.SVCLAB_NAME || '',
    artifacts: path.resolve(env.SVCLAB_ARTIFACTS || path.join(here, 'artifacts')),
    exercise: env.SVCLAB_EXERCISE || 'clusterip',
    exercisesDir: env.SVCLAB_EXERCISES_DIR || path.resolve(here, '../../exercises'),
    solutionCmd: env.SVCLAB_SOLUTION_CMD || '',
    chromium: env.SVCLAB_CHROMIUM || '/usr/bin/chromium',
    kubectl: env.SVCLAB_KUBECTL || 'kubectl',
    headless: env.SVCLAB_HEADED !== '1',
  };
}

/** run runs a program (no shell) with a time limit and resolves to {code, out}; it never rejects. */
export function run(file, args, { env = process.env, cwd, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { env, cwd, timeout: timeoutMs, maxBuffer: 16 << 20, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const out = `${stdout}${stderr}`;
        if (!err) return resolve({ code: 0, out });
        const why = err.killed ? `killed after ${timeoutMs / 1000}s` : (err.code ?? err.message);
        resolve({ code: typeof err.code === 'number' ? err.code : -1, out: `${out}${out ? '\n' : ''}(${why})` });
      });
  });
}

/** kubectl runs kubectl against the lab and returns its output, throwing with the output on failure. */
export async function kubectl(cfg, args, timeoutMs = 60_000) {
  const env = { ...process.env };
  if (cfg.kubeconfig) env.KUBECONFIG = cfg.kubeconfig;
  const { code, out } = await run(cfg.kubectl, args, { env, timeoutMs });
  if (code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${code}):\n${out}`);
  return out.trim();
}

/** api GETs a UI API path with the bearer token and returns the decoded JSON. */
export async function api(cfg, p) {
  const res = await fetch(cfg.url + p, { headers: { Authorization: `Bearer ${cfg.token}` } });
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${p}: ${res.status} ${body.slice(0, 500)}`);
  return JSON.parse(body);
}

/**
 * chooseExercise picks the exercise to walk (cfg.exercise, or the first listed) and its first
 * step with checks, from the UI's own API. Steps before it are returned so their solutions run too.
 */
export async function chooseExercise(cfg) {
  const list = await api(cfg, '/api/exercises');
  const items = Array.isArray(list) ? list : (list.items || list.exercises || []);
  if (!items.length) throw new Error('GET /api/exercises returned no exercises');
  const wanted = items.find((e) => e.id === cfg.exercise);
  const ids = wanted ? [wanted.id] : items.map((e) => e.id);
  for (const id of ids) {
    const view = await api(cfg, `/api/exercises/${encodeURIComponent(id)}`);
    const steps = view.stepViews || view.steps || [];
    const i = steps.findIndex((s) => (s.checks || []).length > 0);
    if (i >= 0) {
      return { id, step: steps[i].id, before: steps.slice(0, i).map((s) => s.id), all: items.map((e) => e.id) };
    }
  }
  throw new Error(`no exercise among ${ids.join(', ')} has a step with checks`);
}

/**
 * applySolution runs the reference solution of steps (in order): SVCLAB_SOLUTION_CMD when set
 * (bash -c, with SVCLAB_EXERCISE_ID and SVCLAB_STEP_ID), else exercises/ID/solution/STEP.sh
 * for each step that has one, from the exercise's folder, with KUBECONFIG and SVCLAB_NAME set.
 */
export async function applySolution(cfg, exercise, steps) {
  const env = { ...process.env, SVCLAB_EXERCISE_ID: exercise };
  if (cfg.kubeconfig) env.KUBECONFIG = cfg.kubeconfig;
  if (cfg.labName) env.SVCLAB_NAME = cfg.labName;
  const log = [];
  if (cfg.solutionCmd) {
    const last = steps[steps.length - 1];
    const { code, out } = await run('bash', ['-c', cfg.solutionCmd], { env: { ...env, SVCLAB_STEP_ID: last }, timeoutMs: 180_000 });
    if (code !== 0) throw new Error(`SVCLAB_SOLUTION_CMD failed (${code}):\n${out}`);
    return out;
  }
  const dir = path.join(cfg.exercisesDir, exercise);
  let ran = 0;
  for (const step of steps) {
    const script = path.join('solution', `${step}.sh`);
    if (!existsSync(path.join(dir, script))) continue;
    const { code, out } = await run('bash', [script], { env: { ...env, SVCLAB_STEP_ID: step }, cwd: dir, timeoutMs: 180_000 });
    log.push(`$ bash ${script}\n${out}`);
    if (code !== 0) throw new Error(`${path.join(dir, script)} failed (${code}):\n${out}`);
    ran++;
  }
  if (ran === 0) {
    throw new Error(`no reference solution for ${exercise} steps ${steps.join(', ')}: expected ` +
      `${path.join(dir, 'solution', steps[steps.length - 1] + '.sh')} (or set SVCLAB_SOLUTION_CMD)`);
  }
  return log.join('\n');
}

/** sleep waits ms milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** poll calls fn until it returns a truthy value or timeoutMs passes; then it throws what(). */
export async function poll(fn, timeoutMs, what, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${typeof what === 'function' ? await what() : what} (after ${timeoutMs / 1000}s)` +
        (last ? `; last error: ${last.message}` : ''));
    }
    await sleep(everyMs);
  }
}

/** Artifacts saves screenshots and logs of one run into a folder. */
export class Artifacts {
  constructor(dir) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    // Only this run's files: remove what an earlier run left (and nothing else).
    for (const f of readdirSync(dir)) {
      if (/^\d\d-.*\.png$|^console\.log$/.test(f)) rmSync(path.join(dir, f));
    }
    this.n = 0;
  }

  /** path returns where a file of this run goes; screenshots are numbered in order. */
  path(name) { return path.join(this.dir, name); }

  async screenshot(page, name) {
    this.n++;
    const file = this.path(`${String(this.n).padStart(2, '0')}-${name}.png`);
    try {
      await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
    } catch (err) {
      console.log(`  (screenshot ${file} failed: ${err.message})`);
    }
    return file;
  }

  write(name, text) {
    writeFileSync(this.path(name), text);
  }
}
