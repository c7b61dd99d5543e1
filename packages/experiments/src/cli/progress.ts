/**
 * Progress output: a cli-progress bar on a terminal, plain lines (every 10 %) elsewhere, nothing in
 * quiet mode. Writes to stderr so stdout stays clean for `--json`.
 */
import cliProgress from 'cli-progress';
import type { OutputStream } from './io.js';

/** Receives progress updates. */
export interface Progress {
  update(done: number, total: number): void;
  /** A message that must not be garbled by the bar. */
  log(line: string): void;
  stop(): void;
}

/** Where progress goes. */
export interface ProgressTarget {
  stream: OutputStream;
  /** Force plain lines even on a TTY (e.g. CI). */
  plain?: boolean;
  quiet?: boolean;
}

/** Creates the progress display for one long job called `label`. */
export function createProgress(label: string, target: ProgressTarget): Progress {
  const { stream } = target;
  if (target.quiet) return { update() {}, log() {}, stop() {} };
  const started = performance.now();
  if (stream.isTTY && !target.plain) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} {bar} {percentage}% | {value}/{total} it | {duration_formatted} elapsed | eta {eta_formatted}`,
        // cli-progress draws only on a TTY, which is a Node stream.
        stream: stream as unknown as NodeJS.WriteStream,
        hideCursor: true,
        etaBuffer: 200,
      },
      cliProgress.Presets.shades_classic,
    );
    let startedBar = false;
    return {
      update(done, total) {
        if (!startedBar) {
          bar.start(total, done);
          startedBar = true;
        } else bar.update(done);
      },
      log(line) {
        if (startedBar) bar.stop();
        stream.write(line + '\n');
        startedBar = false;
      },
      stop() {
        if (startedBar) bar.stop();
        startedBar = false;
      },
    };
  }
  let lastTenth = -1;
  return {
    update(done, total) {
      const tenth = Math.floor((10 * done) / total);
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      const s = ((performance.now() - started) / 1000).toFixed(1);
      stream.write(`${label}: iteration ${done}/${total} (${tenth * 10} %), ${s} s\n`);
    },
    log(line) {
      stream.write(line + '\n');
    },
    stop() {},
  };
}
