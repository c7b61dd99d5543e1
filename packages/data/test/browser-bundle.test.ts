/**
 * Browsers: `@samrank/data/teacher-student` (the paper's Section 4 data, pure float64 JS on @samrank/core's RNG)
 * must bundle with `esbuild --platform=browser` without Node modules — the main entry cannot (downloads, caches
 * and archives use fs, path and crypto). Reads the built dist/ through the package's exports: `npm run build`
 * first (the root `npm test` builds).
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { browserBundle, requireBuilt } from '../../../test-utils/browser-bundle.js';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

beforeAll(() => requireBuilt('data', ['teacher-student.js', 'index.js']));

describe('@samrank/data/teacher-student', () => {
  it('bundles for the browser without any Node module', async () => {
    const result = await browserBundle("export { makeTeacherStudentData } from '@samrank/data/teacher-student';");
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    const { inputs } = result;
    expect(inputs).toContain('packages/data/dist/teacher-student.js');
    expect(inputs.filter((i) => /^node:|(^|:)(fs|os|path|crypto|zlib)$/.test(i))).toEqual([]);
    expect(result.text).not.toMatch(/["']node:[a-z_/]+["']/);
  });

  it('exports the same bindings as the main entry, and the same data', async () => {
    const sub = (await import(pathToFileURL(`${dist}teacher-student.js`).href)) as typeof import('../src/teacher-student.js');
    const main = (await import(pathToFileURL(`${dist}index.js`).href)) as Record<string, unknown>;
    for (const name of Object.keys(sub)) expect(main[name], name).toBe((sub as Record<string, unknown>)[name]);
    const a = sub.makeTeacherStudentData({ seed: 1 });
    expect(a.xTrain.length).toBe(60);
    expect(Array.from(a.yTrain)).toEqual(
      Array.from((await import('../src/teacher-student.js')).makeTeacherStudentData({ seed: 1 }).yTrain),
    );
  });
});
