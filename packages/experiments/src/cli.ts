/** Entry point of the `samrank-repro` bin (bin/samrank-repro.js imports the built dist/cli.js). */
import '@tensorflow/tfjs-layers';
import { processIO } from './cli/io.js';
import { runCli } from './cli/program.js';
import { CLI_ERRORS, EXPERIMENTS } from './experiments.js';

// tfjs-layers' import registers every gradient (tfjs-core alone registers none in Node).
const code = await runCli(EXPERIMENTS, process.argv, processIO(), CLI_ERRORS);
// The wasm backend and vega can keep handles open; the CLI is done, so leave once stdout is flushed.
process.stdout.write('', () => process.exit(code));
