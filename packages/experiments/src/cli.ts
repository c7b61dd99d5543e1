/** Entry point of the `samrank-repro` bin (bin/samrank-repro.js imports the built dist/cli.js). */
import '@tensorflow/tfjs-layers';
import { runCli } from './cli-program.js';

// tfjs-layers' import registers every gradient (tfjs-core alone registers none in Node).
const code = await runCli(process.argv);
// The wasm backend and vega can keep handles open; the CLI is done, so leave once stdout is flushed.
process.stdout.write('', () => process.exit(code));
