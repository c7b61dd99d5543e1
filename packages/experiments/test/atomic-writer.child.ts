/**
 * Child process of the crash tests: writes argv[3] to argv[2] through writeFileAtomic (the test sets
 * SAMRANK_TEST_WRITE_PAUSE_MS so the write pauses between fsync and rename, where the test kills it).
 */
import { writeFileAtomic } from '../src/runner/files.js';

const [file, text] = process.argv.slice(2) as [string, string];
await writeFileAtomic(file, text);
process.stdout.write('done\n');
