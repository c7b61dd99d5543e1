/**
 * Browsers: `@samrank/models/two-layer` (the two-layer net, its losses and parameter transfer) must bundle with
 * `esbuild --platform=browser` without Node modules — the main entry cannot, since its ResNet layers import
 * @samrank/backend (Node only). Reads the built dist/ through the package's exports: `npm run build` first (the
 * root `npm test` builds).
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { browserBundle, requireBuilt } from '../../../test-utils/browser-bundle.js';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

beforeAll(() => requireBuilt('models', ['two-layer.js', 'index.js']));

describe('@samrank/models/two-layer', () => {
  it('bundles for the browser without @samrank/backend or any Node module', async () => {
    const result = await browserBundle(
      "export { twoLayer, fusedSquaredLoss, plainSgdStep, readTwoLayerParams } from '@samrank/models/two-layer';",
    );
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    const { inputs } = result;
    expect(inputs).toContain('packages/models/dist/two-layer.js');
    expect(inputs.filter((i) => /packages\/backend\/|^node:|(^|:)(fs|os|module|path|worker_threads)$/.test(i))).toEqual([]);
    expect(result.text).not.toMatch(/["']node:[a-z_/]+["']/);
  });

  it('exports the same bindings as the main entry (one copy of each class: instanceof holds across entries)', async () => {
    const sub = (await import(pathToFileURL(`${dist}two-layer.js`).href)) as Record<string, unknown>;
    const main = (await import(pathToFileURL(`${dist}index.js`).href)) as Record<string, unknown>;
    const names = Object.keys(sub);
    expect(names).toEqual(expect.arrayContaining(['TwoLayerModel', 'twoLayer', 'fusedSquaredLoss', 'plainSgdStep', 'readTwoLayerParams']));
    for (const name of names) expect(main[name], name).toBe(sub[name]);
  });
});
