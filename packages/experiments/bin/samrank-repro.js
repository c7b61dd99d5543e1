#!/usr/bin/env node
// Committed launcher so npm can link the bin before the first build; the CLI itself is built to dist/.
import('../dist/cli.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli.js')) {
    console.error('samrank-repro: the CLI is not built yet. Run `npm ci` (or `npm run build`) at the repository root.');
    process.exit(1);
  }
  throw error;
});
