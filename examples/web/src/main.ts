/**
 * The demo page: settings from the form (and the URL: ?seed=1&iterations=2000&rho=0.6), a training session
 * advanced in ~30 ms slices between repaints, live figures, a results table and `window.__samrank`, a read-only
 * view of the same state for tests and the console.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { FinalRow, Plots } from './plots.js';
import { type Evaluation, PAPER_RHOS, TrainingSession } from './train.js';

/** What `window.__samrank` offers (a test hook; nothing on the page depends on it). */
export interface DemoHook {
  state: 'loading' | 'idle' | 'training' | 'error';
  backend: string;
  /** Every finished run (last evaluation), in the order they finished; a rerun replaces its row. */
  results: FinalRow[];
  /** The current (or last) session's evaluations. */
  history: Evaluation[];
  /** Wall time of the last finished session, in s, and how much of it went to training steps and evaluations. */
  lastSeconds: number;
  lastTrainingSeconds: number;
  numTensors(): number;
  plotCounts(): { curves: number; finals: number };
}

declare global {
  interface Window {
    __samrank: DemoHook;
  }
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
};

const rhoInput = $<HTMLInputElement>('rho');
const rhoValue = $<HTMLOutputElement>('rho-value');
const seedInput = $<HTMLInputElement>('seed');
const iterationsInput = $<HTMLSelectElement>('iterations');
const trainButton = $<HTMLButtonElement>('train');
const gridButton = $<HTMLButtonElement>('grid');
const stopButton = $<HTMLButtonElement>('stop');
const clearButton = $<HTMLButtonElement>('clear');
const progress = $<HTMLProgressElement>('progress');
const status = $<HTMLSpanElement>('status');
const resultsBody = $<HTMLTableElement>('results').tBodies[0]!;

let plots: Plots | undefined;
let stopRequested = false;

const hook: DemoHook = {
  state: 'loading',
  backend: '',
  results: [],
  history: [],
  lastSeconds: 0,
  lastTrainingSeconds: 0,
  numTensors: () => tf.memory().numTensors,
  plotCounts: () => plots?.counts() ?? { curves: 0, finals: 0 },
};
window.__samrank = hook;

const loss = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : '—');
const count = (x: number) => (Number.isFinite(x) ? String(x) : '—');

/** A macrotask that, unlike setTimeout, is not throttled in background tabs; the browser can paint before it. */
function yieldToBrowser(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

function applyUrlSettings(): void {
  const params = new URLSearchParams(location.search);
  const rho = params.get('rho');
  if (rho !== null && Number.isFinite(Number(rho))) rhoInput.value = rho;
  const seed = params.get('seed');
  if (seed !== null && /^\d+$/.test(seed)) seedInput.value = seed;
  const iterations = params.get('iterations');
  if (iterations !== null && /^\d+$/.test(iterations) && Number(iterations) > 0) {
    if (![...iterationsInput.options].some((o) => o.value === iterations))
      iterationsInput.add(new Option(`${Number(iterations).toLocaleString('en')}`, iterations));
    iterationsInput.value = iterations;
  }
}

function showRho(): void {
  rhoValue.value = Number(rhoInput.value).toFixed(2);
}

function setBusy(busy: boolean): void {
  for (const el of [trainButton, gridButton, clearButton, rhoInput, seedInput, iterationsInput]) el.disabled = busy;
  stopButton.disabled = !busy;
}

function renderResults(): void {
  resultsBody.replaceChildren(
    ...hook.results.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.seed = String(r.seed);
      tr.dataset.rho = String(r.rho);
      tr.dataset.iterations = String(r.iterations);
      const cells = [
        String(r.seed),
        r.rho.toFixed(2),
        String(r.iterations),
        loss(r.trainLoss),
        loss(r.testLoss),
        count(r.featureRank),
        count(r.activeUnits),
      ];
      const keys = ['seed', 'rho', 'iterations', 'train-loss', 'test-loss', 'feature-rank', 'active-units'];
      tr.replaceChildren(
        ...cells.map((text, i) => {
          const td = document.createElement('td');
          td.textContent = r.diverged && i >= 3 ? 'diverged' : text;
          td.dataset.key = keys[i]!;
          return td;
        }),
      );
      return tr;
    }),
  );
}

async function train(rhos: readonly number[]): Promise<void> {
  if (hook.state !== 'idle' || !plots) return;
  const seed = Number(seedInput.value);
  const iterations = Number(iterationsInput.value);
  let session: TrainingSession;
  try {
    session = new TrainingSession({ seed, rhos, iterations });
  } catch (error) {
    status.textContent = String(error instanceof Error ? error.message : error);
    return;
  }
  hook.state = 'training';
  hook.history = session.history;
  stopRequested = false;
  setBusy(true);
  await plots.resetCurves();
  const started = performance.now();
  let trainingMs = 0;
  const label = rhos.length === 1 ? `ρ = ${rhos[0]}` : `ρ ∈ {${rhos.join(', ')}}`;
  try {
    // Short schedules evaluate every few milliseconds: the figures are redrawn at most every 150 ms.
    let pending: Evaluation[] = [];
    let lastDraw = 0;
    while (!session.done && !stopRequested) {
      const t0 = performance.now();
      pending.push(...session.advance(30));
      trainingMs += performance.now() - t0;
      if (pending.length > 0 && (session.done || performance.now() - lastDraw >= 150)) {
        await plots.addEvaluations(pending);
        pending = [];
        lastDraw = performance.now();
      }
      progress.value = session.iteration / iterations;
      const ranks = session
        .finals()
        .map((r) => `${r.rho}: ${count(r.featureRank)}`)
        .join(', ');
      status.textContent =
        `${label}, seed ${seed}: iteration ${session.iteration.toLocaleString('en')} of ${iterations.toLocaleString('en')}` +
        (ranks ? ` · feature rank ${ranks}` : '');
      await yieldToBrowser();
    }
    const seconds = (performance.now() - started) / 1000;
    if (stopRequested) {
      status.textContent = `stopped at iteration ${session.iteration.toLocaleString('en')} (not added to the results)`;
    } else {
      const series = `seed ${seed}, ${iterations.toLocaleString('en')} it.`;
      for (const r of session.finals()) {
        const row: FinalRow = { ...r, iterations, series };
        const at = hook.results.findIndex((o) => o.seed === row.seed && o.rho === row.rho && o.iterations === row.iterations);
        if (at >= 0) hook.results.splice(at, 1);
        hook.results.push(row);
      }
      hook.results.sort((a, b) => a.series.localeCompare(b.series) || a.rho - b.rho);
      renderResults();
      await plots.setFinals(hook.results);
      hook.lastSeconds = seconds;
      hook.lastTrainingSeconds = trainingMs / 1000;
      status.textContent = `${label}, seed ${seed}: ${iterations.toLocaleString('en')} iterations in ${seconds.toFixed(1)} s`;
    }
  } finally {
    session.dispose();
    setBusy(false);
    hook.state = 'idle';
  }
}

const plotsModule = import('./plots.js');

async function start(): Promise<void> {
  applyUrlSettings();
  showRho();
  // cpu: at one example per step the cost is per-op overhead and the fused loss's float64 loops, where wasm gains
  // little; cpu needs no .wasm files served beside the page, and its kernels here are plain IEEE arithmetic.
  await tf.setBackend('cpu');
  await tf.ready();
  hook.backend = tf.getBackend();
  $('backend').textContent = hook.backend;
  // Vega and Vega-Lite are three quarters of the page's code: their own chunk, fetched while tfjs starts.
  const { Plots } = await plotsModule;
  plots = await Plots.create($('curves'), $('finals'));
  rhoInput.addEventListener('input', showRho);
  trainButton.addEventListener('click', () => train([Number(rhoInput.value)]).catch(fail));
  gridButton.addEventListener('click', () => train(PAPER_RHOS).catch(fail));
  stopButton.addEventListener('click', () => {
    stopRequested = true;
  });
  clearButton.addEventListener('click', () => {
    hook.results = [];
    renderResults();
    void plots?.setFinals([]);
  });
  hook.state = 'idle';
  status.textContent = 'ready: pick ρ and train, or run the grid';
}

function fail(error: unknown): void {
  hook.state = 'error';
  status.textContent = `error: ${error instanceof Error ? error.message : String(error)}`;
  console.error(error);
}

start().catch(fail);
