/**
 * The demo page in a real headless browser: Debian's chromium (`apt-get install chromium`; .ci/run installs it)
 * driven by playwright-core, whose own browser downloads are not used. The test builds the page with Vite (from the
 * packages' built dist/, as a user's bundler would see them), serves it from 127.0.0.1, trains 2,000 steps at
 * ρ = 0 and ρ = 0.6 on seed 1 through the form, and reads the table: ρ = 0.6 must show the lower feature rank, the
 * numbers must equal Node's for the same session and survive a reload, and the console must stay free of errors.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { type Browser, type Page, chromium as playwright } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoHook } from '../src/main.js';
import { type Evaluation, trainToEnd } from '../src/train.js';

const pageRoot = fileURLToPath(new URL('..', import.meta.url));
const packagesDir = fileURLToPath(new URL('../../../packages/', import.meta.url));
/** Debian's chromium (or a path in SAMRANK_CHROMIUM). */
const chromiumPath = [process.env.SAMRANK_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
);
if (!chromiumPath) {
  console.warn('examples/web browser test skipped: no chromium binary (apt-get install chromium, or set SAMRANK_CHROMIUM)');
}

const ITERATIONS = 2000;
const SEED = 1;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};

/** A static server for the built page on 127.0.0.1 and a free port. */
function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(dir, path);
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }));
  });
}

describe.skipIf(!chromiumPath)('the demo page in headless Chromium', () => {
  let outDir = '';
  let server: Server | undefined;
  let url = '';
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    for (const name of ['core', 'data', 'models', 'optim', 'rank']) {
      if (!existsSync(join(packagesDir, name, 'dist/index.js'))) {
        throw new Error(`packages/${name}/dist is missing: run \`npm run build\` at the repository root first`);
      }
    }
    outDir = mkdtempSync(join(tmpdir(), 'samrank-web-'));
    await build({ root: pageRoot, configFile: join(pageRoot, 'vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
    ({ server, url } = await serve(outDir));
    browser = await playwright.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  const state = () => page.evaluate(() => window.__samrank?.state);
  const hook = () => page.evaluate(() => JSON.parse(JSON.stringify(window.__samrank)) as Omit<DemoHook, 'numTensors' | 'plotCounts'>);

  async function load(): Promise<void> {
    await page.goto(`${url}?iterations=${ITERATIONS}&seed=${SEED}`);
    await page.waitForFunction(() => ['idle', 'error'].includes(window.__samrank?.state), null, { timeout: 30_000 });
    expect(await state(), (await page.textContent('#status')) ?? '').toBe('idle');
  }

  /** Moves the slider as a user would (an input event), presses "Train at ρ", waits for the run to finish. */
  async function trainAt(rho: number): Promise<void> {
    const before = (await hook()).results.length;
    await page.$eval(
      '#rho',
      (el, value) => {
        const input = el as HTMLInputElement;
        input.value = String(value);
        input.dispatchEvent(new Event('input', { bubbles: true }));
      },
      rho,
    );
    expect(await page.textContent('#rho-value')).toBe(rho.toFixed(2));
    await page.click('#train');
    await page.waitForFunction((n) => window.__samrank.state !== 'training' && window.__samrank.results.length > n, before, {
      timeout: 60_000,
    });
    expect(await state()).toBe('idle');
  }

  /** The results table as the user sees it: ρ → { rank, active units, train loss } read from the cells. */
  async function table(): Promise<Map<number, { rank: number; active: number; iterations: number }>> {
    const rows = await page.$$eval('#results tbody tr', (trs) =>
      trs.map((tr) => {
        const cell = (key: string) => tr.querySelector(`td[data-key="${key}"]`)?.textContent ?? '';
        return { rho: cell('rho'), rank: cell('feature-rank'), active: cell('active-units'), iterations: cell('iterations') };
      }),
    );
    return new Map(rows.map((r) => [Number(r.rho), { rank: Number(r.rank), active: Number(r.active), iterations: Number(r.iterations) }]));
  }

  it(`trains ${ITERATIONS} steps at ρ = 0 and ρ = 0.6 and shows the lower feature rank for ρ = 0.6, with Node's numbers`, async () => {
    await load();
    expect((await hook()).backend).toBe('cpu');
    const started = Date.now();
    await trainAt(0);
    await trainAt(0.6);
    const seconds = (Date.now() - started) / 1000;

    const shown = await table();
    expect([...shown.keys()]).toEqual([0, 0.6]);
    expect(shown.get(0)!.iterations).toBe(ITERATIONS);
    expect(shown.get(0.6)!.rank).toBeLessThan(shown.get(0)!.rank);
    expect(shown.get(0.6)!.active).toBeLessThan(shown.get(0)!.active);

    // The browser's runs are the page's session module run in Node: the same ranks and unit counts, the same losses
    // up to the last bits of the float64 data (the seeded normal draws go through Math.log/sin/cos, which Chromium's
    // V8 and Node 20's round differently in the last bit; the float32 training itself saw identical inputs here).
    await tf.setBackend('cpu');
    const inNode = trainToEnd({ seed: SEED, rhos: [0, 0.6], iterations: ITERATIONS }).finals;
    const inBrowser = (await hook()).results;
    const counts = ({ iteration, seed, rho, featureRank, activeUnits, diverged }: Evaluation) => ({
      iteration,
      seed,
      rho,
      featureRank,
      activeUnits,
      diverged,
    });
    expect(inBrowser.map(counts)).toEqual(inNode.map(counts));
    for (const [i, r] of inBrowser.entries()) {
      expect(Math.abs(r.trainLoss / inNode[i]!.trainLoss - 1)).toBeLessThan(1e-12);
      expect(Math.abs(r.testLoss / inNode[i]!.testLoss - 1)).toBeLessThan(1e-12);
    }
    expect(shown.get(0)!.rank).toBe(inNode[0]!.featureRank);

    // The figures hold the last session's curves (71 evaluations of one run) and both finished runs.
    expect(await page.evaluate(() => window.__samrank.plotCounts())).toEqual({ curves: 71, finals: 2 });
    expect(await page.locator('#curves canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#finals canvas').count()).toBeGreaterThan(0);
    // Every training step leaves the tensor count where it was.
    expect(await page.evaluate(() => window.__samrank.numTensors())).toBe(0);
    expect(problems).toEqual([]);
    console.log(`browser: ρ = 0 → rank ${shown.get(0)!.rank}, ρ = 0.6 → rank ${shown.get(0.6)!.rank}; both runs ${seconds.toFixed(1)} s`);
  });

  it('shows the same numbers after a reload (fixed seed)', async () => {
    const first = (await hook()).results.find((r) => r.rho === 0.6)!;
    await load();
    expect((await hook()).results).toEqual([]);
    await trainAt(0.6);
    expect((await hook()).results).toEqual([first]);
    expect(problems).toEqual([]);
  });
});
