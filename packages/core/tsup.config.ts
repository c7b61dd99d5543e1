import { copyFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/threads.ts', 'src/threads-browser.ts'],
  format: ['esm'],
  target: 'node20',
  dts: true,
  sourcemap: true,
  clean: true,
  splitting: true,
  // The helper thread starts `new URL('./helper-worker.js', import.meta.url)`: the worker and the task runner it
  // imports must sit beside the bundle as the plain modules they are in src/.
  onSuccess: async () => {
    for (const file of ['helper-worker.js', 'run-task.js']) copyFileSync(`src/${file}`, `dist/${file}`);
  },
});
