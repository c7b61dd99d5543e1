/**
 * Browsers: `esbuild --bundle --platform=browser` of a file importing @samrank/optim and @samrank/rank (through
 * their package.json exports, i.e. the built dist/ of every samrank package: `npm run build` first; the root
 * `npm test` builds them) must succeed without Node modules, and the bundle must run where Node's globals are
 * missing, on the single-threaded path with unshared wasm memory (a page that is not cross-origin isolated).
 */
import { existsSync } from 'node:fs';
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
    const context = vm.createContext({ console, atob, btoa, TextEncoder, TextDecoder, setTimeout, clearTimeout, queueMicrotask, performance });
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
        contents: "import '@samrank/optim';\nimport { serialization } from '@tensorflow/tfjs-core';\nexport const names = Object.keys(serialization.SerializationMap.getMap().classNameMap);",
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
});
