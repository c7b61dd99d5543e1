/**
 * SAM on a 2-D quadratic, checked against the closed-form SAM step, then SAM vs SGD on a tiny MLP.
 *
 *   npx tsx examples/optim-sam-quadratic.ts      (build @samrank/optim first: cd packages/optim && npx tsup)
 *
 * L(w) = ½ wᵀAw − bᵀw, so g = Aw − b and one SAM step is
 *   ε = ρ g/‖g‖,  g' = A(w + ε) − b,  w ← w − lr·g'.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// Registers every gradient tfjs-core needs in Node (tfjs-core alone has almost none).
import '@tensorflow/tfjs-layers';
import { SAM, piecewise05Epochs } from '@samrank/optim';

tf.enableProdMode();
await tf.setBackend('cpu');

const A = [
  [3, 0.5],
  [0.5, 1],
];
const b = [1, -2];
const rho = 0.2;
const lr = 0.1;

// --- 1. tfjs SAM vs the closed form, 5 steps ------------------------------------------------------
const w = tf.variable(tf.tensor1d([2, 2]), true, 'w');
const At = tf.tensor2d(A);
const bt = tf.tensor1d(b);
const loss = () =>
  tf.sub(tf.mul(0.5, tf.sum(tf.mul(w, tf.squeeze(tf.matMul(At, tf.reshape(w, [2, 1])))))), tf.sum(tf.mul(bt, w))) as tf.Scalar;

const sam = new SAM(tf.train.sgd(lr), { rho });
let ref = [2, 2];
const grad = (x: number[]) => A.map((row, i) => row[0]! * x[0]! + row[1]! * x[1]! - b[i]!);
console.log('step  loss      w (tfjs SAM)              w (closed form)           max |diff|');
for (let step = 0; step < 5; step++) {
  const l = sam.minimize(loss, true, [w])!;
  const g = grad(ref);
  const n = Math.hypot(...g);
  const g2 = grad(ref.map((x, i) => x + (rho * g[i]!) / n));
  ref = ref.map((x, i) => x - lr * g2[i]!);
  const got = Array.from(w.dataSync());
  const diff = Math.max(...got.map((x, i) => Math.abs(x - ref[i]!)));
  console.log(
    `${step}     ${l.dataSync()[0]!.toFixed(5)}  [${got.map((x) => x.toFixed(6)).join(', ')}]  ` +
      `[${ref.map((x) => x.toFixed(6)).join(', ')}]  ${diff.toExponential(1)}`,
  );
  l.dispose();
}
sam.dispose();
tf.dispose([w, At, bt]);

// --- 2. SAM vs SGD on a tiny MLP (momentum, weight decay, piecewise lr) ----------------------------
function train(rhoValue: number): { loss: number; weightNorm: number } {
  const W1 = tf.variable(tf.randomNormal([4, 16], 0, 0.5, 'float32', 1), true, `W1_${rhoValue}`);
  const W2 = tf.variable(tf.randomNormal([16, 1], 0, 0.5, 'float32', 2), true, `W2_${rhoValue}`);
  const X = tf.randomNormal([64, 4], 0, 1, 'float32', 3);
  const y = tf.sin(tf.sum(X, 1, true));
  const epochs = 200;
  const opt = new SAM(tf.train.momentum(0.05, 0.9), {
    rho: rhoValue,
    weightDecay: 5e-4,
    lrSchedule: piecewise05Epochs(epochs),
  });
  const mse = () => tf.mean(tf.square(tf.sub(tf.matMul(tf.relu(tf.matMul(X, W1)), W2), y))) as tf.Scalar;
  for (let e = 0; e < epochs; e++) opt.minimize(mse, false, [W1, W2]);
  const final = mse();
  const norm = tf.sqrt(tf.add(tf.sum(tf.square(W1)), tf.sum(tf.square(W2))));
  const out = { loss: final.dataSync()[0]!, weightNorm: norm.dataSync()[0]! };
  tf.dispose([final, norm, W1, W2, X, y]);
  opt.dispose();
  return out;
}
for (const r of [0, 0.05, 0.2]) {
  const { loss: l, weightNorm } = train(r);
  console.log(`MLP, rho ${r}: final train MSE ${l.toFixed(5)}, weight norm ${weightNorm.toFixed(3)}`);
}
