/**
 * Cosine k-NN probe (paper Sec. 2 / Figs. 1–3, `compute_knn_error` of the original code): rows are
 * L2-normalized (zero rows stay zero), distance = 1 − cosine, the k nearest training rows vote, and
 * vote ties go to the smallest label.
 */
import { InvalidOptionError, ShapeMismatchError } from './errors.js';
import { addProductTN, type Operand } from './gemm.js';
import { toDense, type DenseMatrix, type MatrixInput } from './matrix.js';

/** Options of {@link knnPredict} and {@link knnError}. */
export interface KnnOptions {
  /** Neighbours per query; default 10 (the paper). */
  k?: number;
  /** Test rows per similarity block (memory: testBatch × trainRows doubles; the training rows are re-packed once per block); default 1024. */
  testBatch?: number;
}

function inverseRowNorms(x: DenseMatrix): Float64Array {
  const { data, rows, cols } = x;
  const inv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0, o = r * cols; c < cols; c++) s += data[o + c]! * data[o + c]!;
    inv[r] = s > 0 ? 1 / Math.sqrt(s) : 0;
  }
  return inv;
}

function checkLabels(labels: ArrayLike<number>, rows: number, what: string): void {
  if (labels.length !== rows) throw new ShapeMismatchError(`${what} has ${labels.length} labels for ${rows} rows`);
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isInteger(labels[i])) throw new InvalidOptionError(`${what}[${i}] = ${labels[i]} is not an integer label`);
  }
}

/** Predicted label of every test row by a majority vote of its k most cosine-similar training rows. */
export function knnPredict(train: MatrixInput, trainLabels: ArrayLike<number>, test: MatrixInput, options: KnnOptions = {}): Int32Array {
  const tr = toDense(train, 'train');
  const te = toDense(test, 'test');
  if (tr.cols !== te.cols) throw new ShapeMismatchError(`train has ${tr.cols} features, test has ${te.cols}`);
  checkLabels(trainLabels, tr.rows, 'trainLabels');
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 1 || k > tr.rows) {
    throw new InvalidOptionError(`k must be an integer in [1, ${tr.rows}] (the training rows); got ${k}`);
  }
  const batch = Math.max(1, Math.floor(options.testBatch ?? 1024));
  const d = tr.cols;
  const nTrain = tr.rows;
  const trainOp: Operand = { data: tr.data, offset: 0, strideK: 1, strideC: d, k: d, c: nTrain, cScale: inverseRowNorms(tr) };
  const testScale = inverseRowNorms(te);
  const predictions = new Int32Array(te.rows);
  const sim = new Float64Array(batch * nTrain);
  const bestIdx = new Int32Array(k);
  const bestSim = new Float64Array(k);
  const votes = new Map<number, number>();
  for (let t0 = 0; t0 < te.rows; t0 += batch) {
    const nb = Math.min(batch, te.rows - t0);
    const testOp: Operand = {
      data: te.data,
      offset: t0 * d,
      strideK: 1,
      strideC: d,
      k: d,
      c: nb,
      cScale: testScale.subarray(t0, t0 + nb),
    };
    sim.fill(0);
    addProductTN(testOp, trainOp, sim);
    for (let i = 0; i < nb; i++) {
      // Keep the k largest similarities (= smallest 1 − cos) by insertion; equal values keep the lower
      // training index first, like a stable ascending sort of the distances.
      let filled = 0;
      const o = i * nTrain;
      for (let j = 0; j < nTrain; j++) {
        const s = sim[o + j]!;
        if (filled === k && s <= bestSim[k - 1]!) continue;
        let pos = filled < k ? filled++ : k - 1;
        while (pos > 0 && bestSim[pos - 1]! < s) {
          bestSim[pos] = bestSim[pos - 1]!;
          bestIdx[pos] = bestIdx[pos - 1]!;
          pos--;
        }
        bestSim[pos] = s;
        bestIdx[pos] = j;
      }
      votes.clear();
      for (let m = 0; m < k; m++) {
        const label = trainLabels[bestIdx[m]!]!;
        votes.set(label, (votes.get(label) ?? 0) + 1);
      }
      let best = 0;
      let bestCount = -1;
      for (const [label, count] of votes) {
        if (count > bestCount || (count === bestCount && label < best)) {
          best = label;
          bestCount = count;
        }
      }
      predictions[t0 + i] = best;
    }
  }
  return predictions;
}

/** Fraction of test rows whose k-NN prediction (see {@link knnPredict}) differs from their label. */
export function knnError(
  train: MatrixInput,
  trainLabels: ArrayLike<number>,
  test: MatrixInput,
  testLabels: ArrayLike<number>,
  options: KnnOptions = {},
): number {
  const predictions = knnPredict(train, trainLabels, test, options);
  checkLabels(testLabels, predictions.length, 'testLabels');
  let wrong = 0;
  for (let i = 0; i < predictions.length; i++) if (predictions[i] !== testLabels[i]) wrong++;
  return wrong / predictions.length;
}
