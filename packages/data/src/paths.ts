import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$SAMRANK_DATA_DIR`, else `~/.cache/samrank/datasets`. */
export function defaultDataDir(): string {
  return process.env['SAMRANK_DATA_DIR'] ?? join(homedir(), '.cache', 'samrank', 'datasets');
}
