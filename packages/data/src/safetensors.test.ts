import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetFormatError } from './errors.js';
import { SafetensorsFormatError, decodeSafetensors, encodeSafetensors, readSafetensors, readSafetensorsHeader } from './safetensors.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-safetensors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A safetensors file written byte by byte from a header object and a data section. */
function raw(header: object, data: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips float32 arrays with their shapes, order and metadata; the data starts 8-byte aligned', () => {
    const arrays = {
      'bert.embeddings.word_embeddings.weight': { shape: [3, 2], data: Float32Array.of(1, -2, 3.5, 0, 1e-30, -7) },
      scalar: { shape: [], data: Float32Array.of(42) },
      empty: { shape: [0, 4], data: new Float32Array(0) },
    };
    const bytes = encodeSafetensors(arrays, { format: 'pt' });
    expect((8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8).toBe(0);
    const path = join(tmp, 'model.safetensors');
    writeFileSync(path, bytes);
    const back = readSafetensors(path);
    expect(Object.keys(back.arrays)).toEqual(Object.keys(arrays));
    for (const [name, a] of Object.entries(arrays)) {
      expect(back.arrays[name]!.shape).toEqual(a.shape);
      expect(Array.from(back.arrays[name]!.data)).toEqual(Array.from(a.data));
    }
    expect(back.metadata).toEqual({ format: 'pt' });
    expect(back.nonFloat).toEqual([]);
  });

  it('decodes F64, F16 and BF16 to float32 and lists integer arrays without decoding them', () => {
    const data = new Uint8Array(8 + 6 + 4 + 16);
    const v = new DataView(data.buffer);
    v.setFloat64(0, 0.1, true);
    // F16: 1.0 = 0x3c00, −2.5 = 0xc100, 2^-24 (the smallest subnormal) = 0x0001.
    [0x3c00, 0xc100, 0x0001].forEach((h, i) => v.setUint16(8 + 2 * i, h, true));
    // BF16: the upper halves of float32 3.140625 (0x40490000) and −0.0 (0x80000000).
    [0x4049, 0x8000].forEach((h, i) => v.setUint16(14 + 2 * i, h, true));
    v.setBigInt64(18, 5n, true);
    v.setBigInt64(26, 7n, true);
    const st = decodeSafetensors(
      raw(
        {
          a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] },
          h: { dtype: 'F16', shape: [3], data_offsets: [8, 14] },
          b: { dtype: 'BF16', shape: [2], data_offsets: [14, 18] },
          position_ids: { dtype: 'I64', shape: [1, 2], data_offsets: [18, 34] },
        },
        data,
      ),
      'mixed.safetensors',
    );
    expect(st.arrays['a']!.data[0]).toBe(Math.fround(0.1));
    expect(Array.from(st.arrays['h']!.data)).toEqual([1, -2.5, 2 ** -24]);
    expect(Array.from(st.arrays['b']!.data)).toEqual([3.140625, -0]);
    expect(st.nonFloat).toEqual([{ name: 'position_ids', dtype: 'I64' }]);
  });

  it('damaged files are one typed error naming the file and the problem', () => {
    const good = encodeSafetensors({ w: { shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) } });
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 5), /too short/],
      [good.subarray(0, good.length - 4), /ends at byte 16 of the data, which has 12/],
      [
        raw({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, new Uint8Array(16)),
        /holds 12 bytes, but \[2,2\] of F32 needs 16/,
      ],
      [raw({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /dtype "Q4"/],
      [raw({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /no valid shape/],
      [raw({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)), /no valid data_offsets/],
      [raw([1, 2], new Uint8Array(0)), /not a JSON object/],
    ];
    const notJson = new Uint8Array(12);
    new DataView(notJson.buffer).setBigUint64(0, 4n, true);
    notJson.set(new TextEncoder().encode('{oop'), 8);
    cases.push([notJson.subarray(0, 12), /not JSON/]);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1000n, true);
    cases.push([huge, /claims 1000 bytes but the file has 8/]);
    // The same damage is found from the bytes and, on disk, from the header and the file's length alone.
    const file = join(tmp, 'bad.safetensors');
    for (const [bytes, message] of cases) {
      writeFileSync(file, bytes);
      for (const [name, read] of [
        ['bad.safetensors', () => decodeSafetensors(bytes, 'bad.safetensors')],
        [file, () => readSafetensorsHeader(file)],
      ] as const) {
        let caught: unknown;
        try {
          read();
        } catch (err) {
          caught = err;
        }
        expect(caught, String(message)).toBeInstanceOf(SafetensorsFormatError);
        expect(caught).toBeInstanceOf(DatasetFormatError);
        expect((caught as Error).message.startsWith(`${name}: `)).toBe(true);
        expect((caught as Error).message).toMatch(message);
      }
    }
    expect(() => readSafetensors(join(tmp, 'missing.safetensors'))).toThrow(/missing\.safetensors: cannot be read \(ENOENT\)/);
    expect(() => readSafetensorsHeader(join(tmp, 'missing.safetensors'))).toThrow(/missing\.safetensors: cannot be read \(ENOENT\)/);
  });

  it('the header alone lists every array with its dtype, shape and byte range', () => {
    const bytes = encodeSafetensors(
      { a: { shape: [2, 3], data: new Float32Array(6) }, b: { shape: [4], data: new Float32Array(4) } },
      { format: 'pt' },
    );
    const file = join(tmp, 'header.safetensors');
    writeFileSync(file, bytes);
    const header = readSafetensorsHeader(file);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.entries).toEqual([
      { name: 'a', dtype: 'F32', shape: [2, 3], begin: 0, end: 24, float: true },
      { name: 'b', dtype: 'F32', shape: [4], begin: 24, end: 40, float: true },
    ]);
    expect(header.dataStart + 40).toBe(bytes.length);
  });
});
