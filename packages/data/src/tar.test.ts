import { describe, expect, it } from 'vitest';
import { TarFormatError, TarReader, writeTar } from './tar.js';

function readAll(tar: Uint8Array, chunkSize: number): { files: Record<string, number[]>; dirs: string[] } {
  const files: Record<string, number[]> = {};
  const dirs: string[] = [];
  const reader = new TarReader({
    onDirectory: (p) => dirs.push(p),
    onFile: (h) => {
      const bytes: number[] = [];
      return {
        write: (c) => bytes.push(...c),
        end: () => {
          expect(bytes.length).toBe(h.size);
          files[h.path] = bytes;
        },
      };
    },
  });
  for (let i = 0; i < tar.length; i += chunkSize) reader.push(tar.subarray(i, i + chunkSize));
  reader.end();
  return { files, dirs };
}

describe('TarReader', () => {
  const a = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);
  const tar = writeTar([
    { path: 'top/', directory: true },
    { path: 'top/a.bin', data: a },
    { path: 'top/empty', data: new Uint8Array(0) },
    { path: 'top/b.txt', data: new TextEncoder().encode('hello') },
  ]);

  it.each([1, 7, 512, 513, 100_000])('reads every member with chunks of %i bytes', (chunk) => {
    const { files, dirs } = readAll(tar, chunk);
    expect(dirs).toEqual(['top/']);
    expect(Object.keys(files)).toEqual(['top/a.bin', 'top/empty', 'top/b.txt']);
    expect(files['top/a.bin']).toEqual(Array.from(a));
    expect(String.fromCharCode(...files['top/b.txt']!)).toBe('hello');
  });

  it('takes long names from pax headers', () => {
    const long = 'd/' + 'x'.repeat(150) + '.bin';
    const record = ` path=${long}\n`;
    let len = record.length + 3;
    len = `${len}${record}`.length;
    const pax = new TextEncoder().encode(`${len}${record}`);
    const raw = writeTar([
      { path: 'PaxHeader', data: pax },
      { path: 'short', data: Uint8Array.of(1, 2) },
    ]);
    raw[156] = 'x'.charCodeAt(0);
    // Fix the header checksum after changing the type flag.
    raw.fill(32, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += raw[i]!;
    raw.set(new TextEncoder().encode(sum.toString(8).padStart(6, '0') + '\u0000 '), 148);
    const { files } = readAll(raw, 64);
    expect(Object.keys(files)).toEqual([long]);
  });

  it('throws TarFormatError on a damaged header and on truncation', () => {
    const bad = tar.slice();
    bad[10] = bad[10]! ^ 0xff;
    expect(() => readAll(bad, 512)).toThrow(/checksum mismatch/);
    expect(() => readAll(tar.subarray(0, 1024 + 300), 512)).toThrow(TarFormatError);
  });
});
