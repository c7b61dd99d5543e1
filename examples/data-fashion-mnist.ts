/**
 * Load Fashion-MNIST (Debian's dataset-fashion-mnist, or --data-dir / $SAMRANK_DATA_DIR), build the
 * training pipeline of docs/paper-notes.md §8.1–8.2 and look at one augmented batch as a tensor.
 *
 *   npx tsx examples/data-fashion-mnist.ts [dataDir]
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { batchToTensors, createPipeline, DatasetNotFoundError, loadImageDataset } from '@samrank/data';

tf.enableProdMode();
await tf.setBackend('cpu');

const dataDir = process.argv[2];
let dataset: Awaited<ReturnType<typeof loadImageDataset>>;
try {
  dataset = await loadImageDataset('fashion-mnist', dataDir ? { dataDir } : {});
} catch (err) {
  if (err instanceof DatasetNotFoundError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
console.log(`read ${dataset.train.count} training and ${dataset.test.count} test images from ${dataset.source}`);

const pipeline = createPipeline(dataset, { seed: 0 });
console.log(
  `after the 0.1 % validation split: train ${pipeline.train.count}, validation ${pipeline.validation.count}, ` +
    `rank/k-NN subset ${pipeline.rankSubset.count}; input ${pipeline.inputShape.join('x')} (28 px padded to 32, grey → 3 channels)`,
);
console.log(`batches of 256 per epoch (drop_last): ${pipeline.stepsPerEpoch(256)}; crop padding ${pipeline.padding}`);

const { x, y } = batchToTensors(pipeline.trainBatchArrays(0, 0, 256));
const [mean, std] = tf.tidy(() => {
  const m = tf.moments(x);
  return [m.mean.dataSync()[0]!, Math.sqrt(m.variance.dataSync()[0]!)];
});
const counts = new Array<number>(10).fill(0);
for (const label of y.dataSync()) counts[label]!++;
console.log(`first batch: x ${x.shape.join('x')} ${x.dtype}, mean ${mean.toFixed(3)}, std ${std.toFixed(3)}`);
console.log(`labels per class: ${counts.join(' ')} (${dataset.classNames?.join(', ')})`);
tf.dispose([x, y]);
