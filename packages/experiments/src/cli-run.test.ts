import { describe, expect, it } from 'vitest';
import { CapturedStream } from './cli-test-io.js';
import { checkResumeFlags, outDirStamp, resolveOrUsage, resumeHint, runLog, stopFlag, toJsonLine, usageError } from './cli-run.js';
import { ExperimentConfigError } from './errors.js';
import type { CommonOptions } from './experiment.js';

const common = (o: Partial<CommonOptions> = {}): CommonOptions => ({ backend: 'wasm', backendExplicit: false, resume: false, json: false, ...o });

describe('shared subcommand helpers', () => {
  it('usageError and resolveOrUsage turn config errors into exit 2 with one line', () => {
    const stderr = new CapturedStream();
    expect(usageError({ stderr }, 'bad')).toBe(2);
    expect(resolveOrUsage({ stderr }, () => 42)).toEqual({ config: 42 });
    expect(
      resolveOrUsage({ stderr }, () => {
        throw new ExperimentConfigError('width must be ≥ 1');
      }),
    ).toEqual({ code: 2 });
    expect(stderr.text).toBe('samrank-repro: bad\nsamrank-repro: width must be ≥ 1\n');
    expect(() =>
      resolveOrUsage({ stderr }, () => {
        throw new TypeError('a bug');
      }),
    ).toThrow(TypeError);
  });

  it('checkResumeFlags: --resume needs --out and no settings', () => {
    const stderr = new CapturedStream();
    expect(checkResumeFlags({ stderr }, common(), true, '--backend')).toBeNull();
    expect(checkResumeFlags({ stderr }, common({ resume: true, out: 'd' }), false, '--backend')).toBeNull();
    expect(checkResumeFlags({ stderr }, common({ resume: true }), false, '--backend')).toBe(2);
    expect(checkResumeFlags({ stderr }, common({ resume: true, out: 'd' }), true, '--backend, --data-dir')).toBe(2);
    expect(stderr.text).toBe(
      'samrank-repro: --resume needs --out DIR (the folder of the interrupted run)\n' +
        'samrank-repro: --resume takes its settings from the checkpoint; pass only --out (and --backend, --data-dir)\n',
    );
  });

  it('outDirStamp, resumeHint, toJsonLine', () => {
    expect(outDirStamp(new Date(Date.UTC(2026, 10, 28, 9, 5, 7)))).toBe('20261128-090507');
    expect(resumeHint('cifar10', '/o', common())).toBe('resume with: samrank-repro cifar10 --resume --out /o\n');
    expect(resumeHint('cifar10', '/o', common({ backend: 'cpu', backendExplicit: true }))).toBe('resume with: samrank-repro cifar10 --resume --out /o --backend cpu\n');
    expect(toJsonLine({ a: NaN, b: [1, Infinity], c: 'x' })).toBe('{"a":null,"b":[1,null],"c":"x"}');
  });

  it('runLog is silent under --json; stopFlag turns on at Ctrl-C and unregisters', () => {
    const stderr = new CapturedStream();
    runLog({ stderr }, { json: true })('hidden');
    runLog({ stderr }, { json: false })('shown');
    expect(stderr.text).toBe('shown\n');
    let handler: (() => void) | null = null;
    const stop = stopFlag({
      onInterrupt: (h) => {
        handler = h;
        return () => {
          handler = null;
        };
      },
    });
    expect(stop.stopped()).toBe(false);
    (handler as (() => void) | null)?.();
    expect(stop.stopped()).toBe(true);
    stop.remove();
    expect(handler).toBeNull();
  });
});
