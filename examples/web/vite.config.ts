import { defineConfig } from 'vite';

export default defineConfig({
  // Relative asset URLs: the built page works from any folder of a static host (and from the test's server).
  base: './',
  build: {
    outDir: 'dist',
    target: 'es2022',
    // The plots chunk (vega, vega-lite, vega-embed) is ~1.1 MB minified, loaded beside the page's ~0.3 MB; splitting
    // vega further gains nothing, since the figures need all of it.
    chunkSizeWarningLimit: 1200,
  },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
