import { samrankVitestConfig } from '../../vitest.shared.js';

// The unit tests import the packages' sources (as every package's tests do); the browser test builds the page
// with vite.config.ts, which reads the packages' built dist/ through their exports, as a user's bundler would.
export default samrankVitestConfig({ testTimeout: 120_000 });
