/** The paper's classification numbers (Figs. 1–3), set beside ours in report.md. */
import type { PaperValues } from '../runner/definition.js';
import type { ClassificationDataset, ClassificationSetting } from './config.js';

/** The paper's last-evaluation values (docs/paper-notes.md §15.2, G1–G6; block-3 rank, 99 %, 10,240 training images). */
export interface PaperNumbers {
  rhos: number[];
  testError: number[];
  rank: number[];
  knnError: number[];
  figure: string;
}

export const PAPER_NUMBERS: Partial<Record<ClassificationDataset, Record<ClassificationSetting, PaperNumbers>>> = {
  cifar10: {
    minimal: {
      figure: 'Fig. 1',
      rhos: [0, 0.1, 0.2, 0.4, 0.6],
      testError: [10.43, 7.8, 7.92, 9.89, 12.39],
      rank: [5162, 4544, 4161, 3219, 2616],
      knnError: [64.42, 63.32, 62.44, 65.23, 67.06],
    },
    sota: {
      figure: 'Fig. 1',
      rhos: [0, 0.1, 0.4, 0.6, 0.8],
      testError: [5.22, 4.16, 4.65, 5.74, 6.48],
      rank: [3720, 3138, 2989, 2153, 1673],
      knnError: [64.81, 63.66, 60.28, 62.27, 63.21],
    },
  },
  cifar100: {
    minimal: {
      figure: 'Fig. 2',
      rhos: [0, 0.1, 0.2, 0.4, 0.6],
      testError: [34.1, 30.48, 29.31, 28.59, 32.63],
      rank: [4218, 3534, 3435, 3082, 2639],
      knnError: [26.63, 25.9, 24.75, 25.51, 26.54],
    },
    sota: {
      figure: 'Fig. 2',
      rhos: [0, 0.2, 0.6, 0.9, 1.2],
      testError: [23.07, 20.61, 21.32, 22.13, 26.91],
      rank: [3374, 2836, 2434, 1999, 1462],
      knnError: [24.62, 24.19, 23.61, 24.44, 26.7],
    },
  },
  'tiny-imagenet': {
    minimal: {
      figure: 'Fig. 3',
      rhos: [0, 0.1, 0.4, 0.5, 0.6],
      testError: [46.85, 43.25, 40.15, 40.81, 43.8],
      rank: [6260, 5632, 5405, 4873, 3490],
      knnError: [30.88, 29.1, 29.11, 29.62, 30.7],
    },
    sota: {
      figure: 'Fig. 3',
      rhos: [0, 0.1, 0.4, 0.6, 0.7],
      testError: [35.09, 33.07, 31.16, 33.36, 35.86],
      rank: [5979, 5474, 5192, 4957, 3173],
      knnError: [28.27, 28.65, 28.18, 29.49, 36.82],
    },
  },
};

/** The paper's values for a data set and setting in metric units (errors as fractions), or undefined. */
export function paperValues(dataset: ClassificationDataset, setting: ClassificationSetting): PaperValues | undefined {
  const p = PAPER_NUMBERS[dataset]?.[setting];
  if (!p) return undefined;
  return {
    source: `${p.figure}, ${setting} setting, PreAct ResNet-18 width 64, 200 epochs, last evaluation (block-3 rank, 99 %, 10,240 training images)`,
    rows: new Map(p.rhos.map((rho, i) => [rho, { testError: p.testError[i]! / 100, rank3: p.rank[i]!, knnError: p.knnError[i]! / 100 }])),
  };
}
