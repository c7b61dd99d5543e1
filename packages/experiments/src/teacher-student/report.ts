/**
 * The values the authors' notebook printed for its single seed (values in docs/paper-notes.md §9.4), set beside ours in report.md.
 */
import type { TeacherStudentConfig } from './config.js';

/** Final values printed by the paper's notebook (seed 4), keyed by ρ / λ. */
export interface PaperRow {
  featureRank: number;
  activeUnits: number;
  weightNorm: number;
  testLoss?: number;
  trainLoss?: number;
}

/** The notebook's numbers for the paper's grids (values in docs/paper-notes.md §9.4); undefined where the paper has none. */
export function paperNumbers(config: Pick<TeacherStudentConfig, 'activation' | 'method'>): Map<number, PaperRow> | undefined {
  const rows = (
    grid: number[],
    rank: number[],
    active: number[],
    norm: number[],
    test?: number[],
    train?: number[],
  ): Map<number, PaperRow> =>
    new Map(
      grid.map((g, i) => [
        g,
        {
          featureRank: rank[i]!,
          activeUnits: active[i]!,
          weightNorm: norm[i]!,
          ...(test ? { testLoss: test[i]! } : {}),
          ...(train ? { trainLoss: train[i]! } : {}),
        },
      ]),
    );
  if (config.activation === 'relu' && config.method === 'sam') {
    return rows(
      [0, 0.1, 0.2, 0.4, 0.6],
      [19, 18, 15, 9, 4],
      [77, 68, 58, 35, 10],
      [6.25, 7.14, 8.61, 10.13, 9.23],
      [0.0147, 0.0089, 0.006, 0.0102, 0.0083],
      [3.8e-6, 1.6e-6, 6.8e-6, 3.3e-4, 1.8e-3],
    );
  }
  if (config.activation === 'relu' && config.method === 'gradnorm') {
    return rows(
      [0, 0.1, 0.2, 0.3, 0.35, 0.38],
      [19, 18, 16, 13, 14, 6],
      [77, 76, 60, 39, 40, 12],
      [6.25, 6.56, 7.88, 11.33, 10.85, 27.24],
      [0.0147, 0.0104, 0.0073, 0.0066, 0.0123, 0.0131],
    );
  }
  if (config.activation === 'abs' && config.method === 'sam') {
    return rows([0, 0.1, 0.2, 0.3, 0.4], [18, 18, 16, 12, 8], [100, 99, 94, 84, 49], [6.85, 3.71, 3.05, 2.84, 2.62]);
  }
  if (config.activation === 'tanh' && config.method === 'sam') {
    return rows([0, 0.2, 0.4, 0.6, 0.8], [17, 16, 12, 6, 3], [100, 99, 67, 11, 4], [22.4, 16.19, 9.15, 4.97, 2.68]);
  }
  return undefined;
}
