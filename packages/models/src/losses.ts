import * as tf from '@tensorflow/tfjs-core';
import { InputShapeError } from './errors.js';

/**
 * Mean softmax cross-entropy, `mean_n(logSumExp(l_n) − Σ_k y_nk·l_nk)`. Labels are integer class ids [N] or
 * (soft / one-hot) targets [N, K]. Written without `tf.losses.softmaxCrossEntropy` / `tf.logSoftmax`, whose
 * `customGrad` is not double-differentiable (the Equal inside Max's gradient still needs the zero gradient
 * that `setupBackend` registers when a gradient of a gradient is taken).
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D | tf.Tensor2D): tf.Scalar {
  const [n, k] = logits.shape;
  return tf.tidy(() => {
    let targets: tf.Tensor2D;
    if (labels.rank === 1) {
      if (labels.shape[0] !== n) throw new InputShapeError(`labels [${labels.shape}] do not match logits [${logits.shape}]`);
      targets = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, k) as tf.Tensor2D;
      targets = tf.cast(targets, 'float32');
    } else {
      if (labels.shape[0] !== n || labels.shape[1] !== k) {
        throw new InputShapeError(`targets [${labels.shape}] do not match logits [${logits.shape}]`);
      }
      targets = labels as tf.Tensor2D;
    }
    const lse = tf.logSumExp(logits, 1);
    const picked = tf.sum(tf.mul(targets, logits), 1);
    return tf.mean(tf.sub(lse, picked));
  });
}

/** Mean squared error without the ½ (the paper's two-layer loss `(f(x) − y)²`). */
export function squaredLoss(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  if (predictions.size !== targets.size) {
    throw new InputShapeError(`predictions [${predictions.shape}] and targets [${targets.shape}] differ in size`);
  }
  return tf.tidy(() => tf.mean(tf.square(tf.sub(tf.reshape(predictions, [-1]), tf.reshape(targets, [-1])))));
}

/** Fraction of rows whose arg-max logit equals the integer label (ties go to the lowest index). */
export function accuracy(logits: tf.Tensor2D, labels: tf.Tensor1D): number {
  return tf.tidy(() => {
    const hit = tf.equal(tf.argMax(logits, 1), tf.cast(labels, 'int32'));
    return tf.mean(tf.cast(hit, 'float32')).dataSync()[0]!;
  });
}
