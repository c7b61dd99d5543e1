/**
 * The browser-subpath checks of @samrank/data and @samrank/models: bundle an entry that imports a package subpath
 * through its exports map (so the built dist/, `npm run build` first) as `esbuild --platform=browser` does, and
 * say which files went in. One helper so that each package's test states only its entry and what must stay out.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from './fixtures.js';

export interface BrowserBundle {
  errors: unknown[];
  warnings: unknown[];
  /** Bundled input files, relative to the repository root (`packages/models/dist/two-layer.js`, `node:fs`, …). */
  inputs: string[];
  text: string;
}

/** Throws naming the build command when a package's dist/ files are missing. */
export function requireBuilt(pkg: string, files: readonly string[]): void {
  for (const name of files) {
    if (!existsSync(join(repoRoot, 'packages', pkg, 'dist', name))) {
      throw new Error(`packages/${pkg}/dist/${name} is missing: run \`npm run build\` at the repository root first`);
    }
  }
}

/** Bundles `contents` (an ES module source) for the browser, as one ESM file, without writing it. */
export async function browserBundle(contents: string): Promise<BrowserBundle> {
  const result = await build({
    stdin: { contents, resolveDir: repoRoot, sourcefile: 'entry.js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    absWorkingDir: repoRoot,
    logLevel: 'silent',
  });
  return {
    errors: result.errors,
    warnings: result.warnings,
    inputs: Object.keys(result.metafile.inputs),
    text: result.outputFiles[0]!.text,
  };
}
