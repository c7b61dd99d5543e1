/**
 * Browsers: `esbuild --bundle --platform=browser` of a file importing @samrank/optim and @samrank/rank (through
 * their package.json exports, i.e. the built dist/ of every samrank package: `npm run build` first; the root
 * `npm test` builds them) must succeed without Node modules, and the bundle must run where Node's globals are
 * missing, on the single-threaded path with unshared wasm memory (a page that is not cross-origin isolated).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from './browser-entry.js';

const entry = fileURLToPath(new URL('./browser-entry.ts', import.meta.url));
const packagesDir = fileURLToPath(new URL('../../', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

let text = '';
let metafile: Metafile;

/** Debian's chromium, when installed (`apt-get install chromium`); the real-browser run is skipped otherwise. */
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

beforeAll(async () => {
  for (const name of ['core', 'optim', 'rank']) {
    if (!existsSync(`${packagesDir}${name}/dist/index.js`)) {
      throw new Error(`packages/${name}/dist is missing: run \`npm run build\` at the repository root first`);
    }
  }
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'samrankBundle',
    write: false,
    metafile: true,
    absWorkingDir: repoRoot,
    logLevel: 'silent',
  });
  expect(result.errors).toEqual([]);
  expect(result.warnings).toEqual([]);
  text = result.outputFiles[0]!.text;
  metafile = result.metafile;
}, 120_000);

describe('esbuild --bundle --platform=browser of @samrank/optim + @samrank/rank', () => {
  it('succeeds and pulls in no Node module: the helper thread resolves to core/threads-browser', () => {
    const inputs = Object.keys(metafile.inputs);
    for (const file of ['packages/optim/dist/index.js', 'packages/rank/dist/index.js', 'packages/core/dist/threads-browser.js']) {
      expect(inputs).toContain(file);
    }
    expect(inputs.filter((i) => /core\/dist\/threads\.js|worker_threads|^node:|(^|:)(os|process)$/.test(i))).toEqual([]);
    expect(text).not.toMatch(/(from\s*|import\(\s*)["'](node:)?(worker_threads|os)["']/);
    expect(text).not.toMatch(/\brequire\(\s*["']/);
    expect(text).not.toMatch(/["']node:[a-z_/]+["']/);
  });

  it('runs without process, require, Buffer or SharedArrayBuffer, single-threaded, with the results of Node', async () => {
    const context = vm.createContext({
      console,
      atob,
      btoa,
      TextEncoder,
      TextDecoder,
      setTimeout,
      clearTimeout,
      queueMicrotask,
      performance,
    });
    // A web worker's globals as far as tfjs-core's platform detection goes; shared wasm memory refused as on a page
    // without cross-origin isolation.
    vm.runInContext(
      `globalThis.self = globalThis;
       globalThis.WorkerGlobalScope = function WorkerGlobalScope() {};
       globalThis.navigator = { userAgent: 'vm', hardwareConcurrency: 4 };
       delete globalThis.SharedArrayBuffer;
       const Memory = WebAssembly.Memory;
       WebAssembly.Memory = function (descriptor) {
         if (descriptor && descriptor.shared) throw new TypeError('shared memory needs cross-origin isolation');
         return new Memory(descriptor);
       };`,
      context,
    );
    vm.runInContext(text, context);
    for (const name of ['process', 'require', 'Buffer', 'module', 'SharedArrayBuffer']) {
      expect(vm.runInContext(`typeof ${name}`, context), name).toBe('undefined');
    }
    const inBrowser = (await vm.runInContext('samrankBundle.run()', context)) as Awaited<ReturnType<typeof run>>;
    const inNode = await run();
    expect(inBrowser.rankGram).toBeGreaterThan(30);
    expect(inBrowser.weights.every(Number.isFinite)).toBe(true);
    // Same kernels, same bits: the unshared single-threaded path equals Node's (shared memory, maybe two threads).
    expect(JSON.parse(JSON.stringify(inBrowser))).toEqual(inNode);
  });

  it("keeps optim's serialization registration for a bare import '@samrank/optim' (sideEffects)", async () => {
    const result = await build({
      stdin: {
        contents:
          "import '@samrank/optim';\nimport { serialization } from '@tensorflow/tfjs-core';\nexport const names = Object.keys(serialization.SerializationMap.getMap().classNameMap);",
        resolveDir: repoRoot,
        sourcefile: 'bare-import.js',
      },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    expect(result.warnings).toEqual([]); // sideEffects: false made esbuild drop the import, with a warning
    const code = result.outputFiles[0]!.text;
    expect(code).toMatch(/registerClass\(SAM\)/);
    expect(code).toMatch(/registerClass\(GradientNormRegularizer\)/);
  });

  it.skipIf(!chromium)(
    'runs in headless Chromium on a page without cross-origin isolation, with the results of Node',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'samrank-chromium-'));
      try {
        writeFileSync(join(dir, 'bundle.js'), text);
        writeFileSync(
          join(dir, 'index.html'),
          `<!doctype html><meta charset="utf-8"><script src="bundle.js"></script><pre id="out">pending</pre><script>
        const info = { isolated: self.crossOriginIsolated, sab: typeof SharedArrayBuffer, process: typeof process };
        samrankBundle.run().then(
          (r) => { document.getElementById('out').textContent = 'RESULT ' + JSON.stringify({ info, r }); },
          (e) => { document.getElementById('out').textContent = 'ERROR ' + String(e && e.stack || e); });
        </script>`,
        );
        const dom = execFileSync(
          chromium!,
          [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--allow-file-access-from-files',
            '--virtual-time-budget=60000',
            '--dump-dom',
            `file://${dir}/index.html`,
          ],
          { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] },
        );
        const line = /(RESULT|ERROR) (.*)<\/pre>/.exec(dom);
        expect(line?.[1], line?.[2] ?? dom.slice(0, 500)).toBe('RESULT');
        const { info, r } = JSON.parse(line![2]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as { info: object; r: unknown };
        expect(info).toEqual({ isolated: false, sab: 'undefined', process: 'undefined' });
        expect(r).toEqual(await run());
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    180_000,
  );
});
