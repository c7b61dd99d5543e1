import * as tf from '@tensorflow/tfjs-core';
import { InputShapeError, ModelConfigError } from './errors.js';

/** The paper's contrastive temperature (docs/paper-notes.md §12.1). */
export const CONTRASTIVE_TEMPERATURE = 0.05;

/**
 * The floor inside each log of the original loss: −log(1e-20 + p). It caps a pair's term at −log(1e-20) ≈ 46.05
 * when its probability underflows to 0, so one hopeless pair cannot make the loss infinite.
 */
export const INFONCE_FLOOR = 1e-20;

function checkPair(imageEmbeddings: tf.Tensor2D, textEmbeddings: tf.Tensor2D): void {
  const [n, d] = imageEmbeddings.shape;
  if (imageEmbeddings.rank !== 2 || textEmbeddings.rank !== 2 || n !== textEmbeddings.shape[0] || d !== textEmbeddings.shape[1]) {
    throw new InputShapeError(
      `image and text embeddings must both be [N, D] with the same N and D, got [${imageEmbeddings.shape}] and [${textEmbeddings.shape}]`,
    );
  }
  if (n < 1) throw new InputShapeError('contrastive batches need at least one image–text pair');
}

/**
 * The symmetric InfoNCE loss of the paper's image–text setting (paper §3; docs/paper-notes.md §12.1), for a batch of
 * N matching pairs (row i of each input belongs together; pass L2-normalised embeddings, as the towers do):
 * `S = X_img X_txtᵀ / temperature` and `mean_i ½[−log(1e-20 + softmax_row(S)_ii) − log(1e-20 + softmax_col(S)_ii)]`.
 * The softmax diagonals are `exp(S_ii − logSumExp)`, stable for any scale of S, and the floor is the original's.
 * Differentiable twice (log-sum-exp, exp and log only), so the gradient-norm regularizer can use it.
 */
export function symmetricInfoNce(
  imageEmbeddings: tf.Tensor2D,
  textEmbeddings: tf.Tensor2D,
  options: { temperature?: number } = {},
): tf.Scalar {
  const temperature = options.temperature ?? CONTRASTIVE_TEMPERATURE;
  if (!Number.isFinite(temperature) || temperature <= 0) {
    throw new ModelConfigError(`temperature must be a positive number, got ${temperature}`);
  }
  checkPair(imageEmbeddings, textEmbeddings);
  const n = imageEmbeddings.shape[0];
  return tf.tidy(() => {
    const scores = tf.div(tf.matMul(imageEmbeddings, textEmbeddings, false, true), temperature);
    const diagonal = tf.sum(tf.mul(scores, tf.eye(n)), 1);
    const pRow = tf.exp(tf.sub(diagonal, tf.logSumExp(scores, 1)));
    const pCol = tf.exp(tf.sub(diagonal, tf.logSumExp(scores, 0)));
    const terms = tf.add(tf.log(tf.add(pRow, INFONCE_FLOOR)), tf.log(tf.add(pCol, INFONCE_FLOOR)));
    return tf.mul(tf.mean(terms), -0.5) as tf.Scalar;
  });
}

/** Retrieval errors of one batch of matching pairs, in percent (100 − accuracy). */
export interface RetrievalErrors {
  /** Per image (a row of S): is the best-scoring text its own? */
  textwise: number;
  /** Per text (a column of S): is the best-scoring image its own? */
  imagewise: number;
}

/**
 * In-batch retrieval as the paper measures it (docs/paper-notes.md §12.2): for each image the text with the largest
 * score `x_img · x_txt` (textwise), for each text the best image (imagewise); ties go to the lowest index, as arg-max
 * does. The paper averages these over 10 test batches of 128 pairs.
 */
export function retrievalErrors(imageEmbeddings: tf.Tensor2D, textEmbeddings: tf.Tensor2D): RetrievalErrors {
  checkPair(imageEmbeddings, textEmbeddings);
  const n = imageEmbeddings.shape[0];
  const [byRow, byCol] = tf.tidy(() => {
    const scores = tf.matMul(imageEmbeddings, textEmbeddings, false, true);
    return [tf.argMax(scores, 1).dataSync(), tf.argMax(scores, 0).dataSync()];
  });
  let rowHits = 0;
  let colHits = 0;
  for (let i = 0; i < n; i++) {
    if (byRow[i] === i) rowHits++;
    if (byCol[i] === i) colHits++;
  }
  return { textwise: 100 * (1 - rowHits / n), imagewise: 100 * (1 - colHits / n) };
}
