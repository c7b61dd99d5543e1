import { createRng } from '../src/random.js';
import { timeMedian, writeResults } from '../../../bench/lib.js';

const n = 1_000_000;
const ms = await timeMedian(() => {
  const rng = createRng(1);
  let s = 0;
  for (let i = 0; i < n; i++) s += rng.normal();
  return s;
});
writeResults('data', [{ name: `createRng normal x ${n}`, ms }]);
