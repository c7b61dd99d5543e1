import { describe, expect, it } from 'vitest';
import { curvesFigure, fieldOf, finalFigure } from './figures.js';
import { renderFigure } from './render.js';

const metric = (key: string) => ({ key, title: key, compute: () => 0 });

describe('figures', () => {
  it('metric keys with dots plot (vega-lite reads dots in field names as paths)', async () => {
    expect(fieldOf('rank3.train.99.9')).toBe('rank3_train_99_9');
    const runs = [0, 0.5].flatMap((rho) =>
      [1, 2].map((seed) => ({ rho, seed, status: 'ok' as const, divergedAt: null, final: { 'rank3.train.95': 10 - 4 * rho + seed } })),
    );
    const final = finalFigure('t', [metric('rank3.train.95')], runs, { name: 'rho', symbol: 'ρ' })!;
    const { svg } = await renderFigure(final);
    // A drawn line is a path through the data points; with the field not found vega draws no such path.
    expect(svg).toMatch(/role="graphics-symbol" aria-roledescription="line mark" d="M[\d.,-]+L/);
    expect(JSON.stringify(final)).not.toContain('"field":"rank3.train.95"');
    const history = runs.flatMap((r) => [0, 1].map((step) => ({ step, rho: r.rho, seed: r.seed, 'rank3.test.99': step + r.rho })));
    const curves = curvesFigure('t', [metric('rank3.test.99')], history, { field: 'step', label: 'step' }, { name: 'rho', symbol: 'ρ' })!;
    expect(JSON.stringify(curves)).toContain('"field":"rank3_test_99"');
  });

  it('a metric without any value is left out (no empty panel)', () => {
    const runs = [{ rho: 0, seed: 1, status: 'ok' as const, divergedAt: null, final: { a: 1, b: null } }];
    const spec = finalFigure('t', [metric('a'), metric('b')], runs, { name: 'rho', symbol: 'ρ' }) as { hconcat: unknown[] };
    expect(spec.hconcat).toHaveLength(1);
    expect(finalFigure('t', [metric('b')], runs, { name: 'rho', symbol: 'ρ' })).toBeNull();
  });
});
