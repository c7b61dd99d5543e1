/**
 * The tensor-side activation switch shared by the two-layer net and the MLP. Kept apart from `layers.ts` (which
 * imports @samrank/backend's kernel names) so that `@samrank/models/two-layer` bundles for browsers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfigError } from './errors.js';

/** Activations supported by the fully connected models. */
export type Activation = 'relu' | 'tanh' | 'abs' | 'linear';

/** The activations `activate` knows, in a stable order (option validation, messages). */
export const ACTIVATION_NAMES: readonly Activation[] = Object.freeze(['relu', 'tanh', 'abs', 'linear']);

/**
 * Applies a named activation: the one tensor-side switch of the package (the two-layer net, the MLP); the scalar
 * one, with the same conventions, is @samrank/core's `activationValue`.
 */
export function activate<T extends tf.Tensor>(x: T, activation: Activation): T {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'abs':
      return tf.abs(x);
    case 'linear':
      return x;
  }
  throw new ModelConfigError(`activation must be one of ${ACTIVATION_NAMES.join(', ')}, got ${String(activation)}`);
}
