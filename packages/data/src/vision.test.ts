import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptFileError, DatasetFormatError, DatasetNotFoundError, DownloadError } from './errors.js';
import { NpyFile, NpyFormatError, NpyMatrixWriter, decodeNpy, encodeNpy, npyHeaderBytes } from './npy.js';
import { NpzFile, readNpz } from './npz.js';
import { startTestServer } from './test-archives.js';
import { VISION_CHECKPOINTS, checkNpzStructure, downloadVisionCheckpoint, isVisionCheckpointName } from './vision-checkpoints.js';
import { openVisionImages, resizeBilinear } from './vision-images.js';
import { storedZip } from '../../../test-utils/zip.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'samrank-vision-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const fixtures = join(__dirname, '..', '..', '..', 'fixtures', 'vision');

/** `np.savez(b, a=np.arange(6, dtype='<f4').reshape(2, 3), b=np.array([1.5, -2.25]))` written by numpy 1.24 (ZIP64 local headers). */
const NUMPY_NPZ =
  'UEsDBC0AAAAAAAAAIQBP6QAq//////////8FABQAYS5ucHkBABAAmAAAAAAAAACYAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmNCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgyLCAzKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAAAAAAAgD8AAABAAABAQAAAgEAAAKBAUEsDBC0AAAAAAAAAIQAy+vNz//////////8FABQAYi5ucHkBABAAkAAAAAAAAACQAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmOCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgyLCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAAAAAAA+D8AAAAAAAACwFBLAQItAy0AAAAAAAAAIQBP6QAqmAAAAJgAAAAFAAAAAAAAAAAAAACAAQAAAABhLm5weVBLAQItAy0AAAAAAAAAIQAy+vNzkAAAAJAAAAAFAAAAAAAAAAAAAACAAc8AAABiLm5weVBLBQYAAAAAAgACAGYAAACWAQAAAAA=';
/** `np.savez_compressed(b, w=np.linspace(0, 1, 50, dtype='<f4'), i=np.arange(3))`: deflated entries, an int64 array. */
const NUMPY_NPZ_COMPRESSED =
  'UEsDBC0AAAAIAAAAIQArfRvh//////////8FABQAdy5ucHkBABAASAEAAAAAAAACAQAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6loG6TZqKuo6Cell9UUpSYF59flJIKEndLzClOBYoXZyQWpAL5GqYGOpo6CrUK5AMuBiBg1V9uw6qvbttxrMoWyLY9/usCkP3LVtVTyA4obvdMxMbu+K8Au+UPUu2AauxMrrXbqXpOshPdMwcov9zu28KNQDV77K61HwOqu2C3Pfc2UO1TuxnBH4Dqf9ntmcNkb3KN3X4NP6890Ez7uU3i9qJ7ZOx7vyraA823r83Qsf+20NA+77aZPdAu+zg/R/tr7W72fge97YH22tubhNlvz42211+eYA90g728VLb9jOACe4HeUnuge+wZGBrsAVBLAwQtAAAACAAAACEA90AS6v//////////BQAUAGkubnB5AQAQAJgAAAAAAAAATAAAAAAAAACb7BfqGxDJyFDGUK2eklqcXKRupaBuk2mhrqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RrGOpo6CrUKFAAuBihghNJMUBoAUEsBAi0DLQAAAAgAAAAhACt9G+ECAQAASAEAAAUAAAAAAAAAAAAAAIABAAAAAHcubnB5UEsBAi0DLQAAAAgAAAAhAPdAEupMAAAAmAAAAAUAAAAAAAAAAAAAAIABOQEAAGkubnB5UEsFBgAAAAACAAIAZgAAALwBAAAAAA==';

function file(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

describe('.npy', () => {
  it('parses float32, float64 (rounded to float32) and uint8 arrays; refuses other dtypes, Fortran order and short data', () => {
    const f4 = decodeNpy(encodeNpy('<f4', [2, 2], new Float32Array([1, 2, 3, 4.5])), 'a');
    expect(f4).toMatchObject({ dtype: '<f4', shape: [2, 2] });
    expect(Array.from(f4.data)).toEqual([1, 2, 3, 4.5]);
    const f8 = decodeNpy(encodeNpy('<f8', [3], new Float64Array([0.1, -2, 1e-40])), 'b');
    expect(Array.from(f8.data)).toEqual([Math.fround(0.1), -2, Math.fround(1e-40)]);
    expect(f8.data).toBeInstanceOf(Float32Array);
    expect(Array.from(decodeNpy(encodeNpy('|u1', [2], new Uint8Array([7, 255])), 'c').data)).toEqual([7, 255]);
    expect(npyHeaderBytes('<f4', [5]).length % 64).toBe(0);
    const header = (dict: string) => {
      const h = npyHeaderBytes('<f4', [1]);
      const text = dict.padEnd(h.length - 11, ' ') + '\n';
      const out = new Uint8Array(10 + text.length + 4);
      out.set(h.subarray(0, 8));
      new DataView(out.buffer).setUint16(8, text.length, true);
      for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
      return out;
    };
    const err = (bytes: Uint8Array, opts = {}) => {
      try {
        decodeNpy(bytes, 'x.npy', opts);
      } catch (e) {
        return e as NpyFormatError;
      }
      throw new Error('no error');
    };
    expect(err(header("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }")).check).toBe('dtype');
    expect(err(header("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }")).message).toMatch(/dtype '>f4' is not supported/);
    expect(err(header("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }")).check).toBe('order');
    expect(err(header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }")).check).toBe('truncated');
    expect(err(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).check).toBe('header');
    expect(err(encodeNpy('|u1', [1], new Uint8Array(1)), { float: true }).check).toBe('dtype');
    expect(err(header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"))).toBeInstanceOf(DatasetFormatError);
  });

  it('NpyFile reads row ranges; NpyMatrixWriter streams rows, resumes, and renames only when complete', () => {
    const data = new Uint8Array(5 * 2 * 2 * 3).map((_, i) => i);
    const f = new NpyFile(file('rows.npy', encodeNpy('|u1', [5, 2, 2, 3], data)));
    expect(f.rows).toBe(5);
    expect(Array.from(f.readRows(2, 2))).toEqual(Array.from(data.subarray(24, 48)));
    expect(() => f.readRows(4, 2)).toThrow(RangeError);
    f.close();
    expect(() => new NpyFile(file('short.npy', encodeNpy('<f4', [4], new Float32Array(4)).subarray(0, 140)))).toThrow(/needs 144 bytes/);
    const path = join(tmp, 'features.npy');
    const w = new NpyMatrixWriter(path, 4, 3);
    w.writeRows(0, new Float32Array([1, 2, 3, 4, 5, 6]));
    expect(() => w.finish()).toThrow(/row 2 was never written/);
    w.close();
    expect(existsSync(path)).toBe(false);
    const again = new NpyMatrixWriter(path, 4, 3, { resumeRows: 2 });
    again.writeRows(2, new Float32Array([7, 8, 9, 10, 11, 12]));
    again.finish();
    const back = decodeNpy(new Uint8Array(readFileSync(path)), path);
    expect(back.shape).toEqual([4, 3]);
    expect(Array.from(back.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(() => new NpyMatrixWriter(join(tmp, 'other.npy'), 4, 3, { resumeRows: 1 })).toThrow();
  });
});

describe('.npz', () => {
  it('reads numpy archives: ZIP64 local headers, deflated entries, a fully ZIP64 directory, the fixtures', () => {
    const a = readNpz(file('numpy.npz', Buffer.from(NUMPY_NPZ, 'base64')));
    expect(a['a']).toEqual({ shape: [2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) });
    expect(a['b']).toEqual({ shape: [2], data: new Float32Array([1.5, -2.25]) });
    const z = new NpzFile(file('compressed.npz', Buffer.from(NUMPY_NPZ_COMPRESSED, 'base64')));
    expect(z.names).toEqual(['w', 'i']);
    expect(z.readFloat32('w').data[49]).toBe(1);
    expect(() => z.readFloat32('i')).toThrow(/dtype '<i8' is not supported/);
    z.close();
    const big = readNpz(
      file(
        'zip64.npz',
        storedZip(
          { 'x/y.npy': encodeNpy('<f4', [2], new Float32Array([3, 4])), 'z.npy': encodeNpy('<f8', [1], new Float64Array([0.5])) },
          { zip64: true },
        ),
      ),
    );
    expect(big).toEqual({ 'x/y': { shape: [2], data: new Float32Array([3, 4]) }, z: { shape: [1], data: new Float32Array([0.5]) } });
    const vit = readNpz(join(fixtures, 'vit.npz'));
    expect(Object.keys(vit)).toHaveLength(56);
    expect(vit['Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel']!.shape).toEqual([24, 3, 8]);
  });

  it('a truncated archive, a flipped byte, a non-float array → typed errors', () => {
    const bytes = new Uint8Array(readFileSync(join(fixtures, 'mixer.npz')));
    const cut = (e: unknown) => e as CorruptFileError;
    expect(() => readNpz(file('cut.npz', bytes.subarray(0, bytes.length - 200)))).toThrow(CorruptFileError);
    try {
      readNpz(file('cut2.npz', bytes.subarray(0, 1000)));
    } catch (e) {
      expect(cut(e).check).toBe('truncated');
    }
    const flipped = bytes.slice();
    flipped[5000] = flipped[5000]! ^ 0x40;
    expect(() => readNpz(file('flipped.npz', flipped))).toThrow(/CRC-32 check failed/);
    const ints = zipSync({ 'k.npy': encodeNpy('|u1', [2], new Uint8Array(2)) }, { level: 0 });
    expect(() => readNpz(file('ints.npz', ints))).toThrow(NpyFormatError);
    expect(() => checkNpzStructure(file('ints2.npz', ints))).toThrow(/not a float array/);
    expect(() => readNpz(file('empty.npz', zipSync({ 'readme.txt': new Uint8Array(3) })))).toThrow(/no .npy arrays/);
    expect(checkNpzStructure(join(fixtures, 'mixer.npz'))).toBe(42);
  });
});

describe('images for the vision probes', () => {
  it('bilinear resize matches a hand computation (TF half-pixel centres, edge clamp)', () => {
    // 2×2 single-channel image [[0, 10], [20, 30]] to 4×4: samples at (i + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25 → clamped 0, 0.25, 0.75, 1.
    const out = resizeBilinear([0, 10, 20, 30], 2, 2, 1, 4, 4);
    const f = [0, 0.25, 0.75, 1];
    const expected = f.flatMap((y) => f.map((x) => 20 * y + 10 * x));
    expect(Array.from(out)).toEqual(expected.map(Math.fround));
    // Downscaling 4×1 → 2×1 samples at 0.5 and 2.5: averages of neighbours.
    expect(Array.from(resizeBilinear([0, 4, 8, 12], 1, 4, 1, 1, 2))).toEqual([2, 10]);
    // Same size: the identity.
    const img = Array.from({ length: 3 * 5 * 2 }, (_, i) => (i * 37) % 255);
    expect(Array.from(resizeBilinear(img, 3, 5, 2, 3, 5))).toEqual(img);
  });

  it('an .npy uint8 array and a folder of JPEGs (class folders round-robin) are read in a fixed order and mapped to [−1, 1]', () => {
    const images = openVisionImages(join(fixtures, 'images.npy'), { limit: 10 });
    expect(images).toMatchObject({ kind: 'npy', count: 10 });
    const raw = new NpyFile(join(fixtures, 'images.npy'));
    const px = raw.readRows(3, 1);
    raw.close();
    const batch = images.read(3, 2, 32);
    expect(batch.length).toBe(2 * 32 * 32 * 3);
    for (const i of [0, 100, 3071]) expect(batch[i]).toBeCloseTo(2 * (px[i]! / 255 - 0.5), 6);
    expect(images.read(0, 1, 16).length).toBe(16 * 16 * 3);
    images.close();
    const root = join(tmp, 'imagenet');
    const solid = (v: number) => jpeg.encode({ data: new Uint8Array(8 * 6 * 4).fill(v), width: 8, height: 6 }, 100).data;
    for (const [cls, files] of [
      ['n02', ['b.JPEG', 'a.JPEG', 'c.JPEG']],
      ['n01', ['z.JPEG', 'y.JPEG']],
    ] as const) {
      for (const [i, f] of files.entries()) {
        const dir = join(root, 'train', cls);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, f), solid(cls === 'n01' ? 40 * (i + 1) : 200));
      }
    }
    writeFileSync(join(root, 'train', 'n01', 'notes.txt'), 'not an image');
    const folder = openVisionImages(root, { limit: 4 });
    expect(folder.kind).toBe('folder');
    expect(folder.names(0, 4)).toEqual(['n01/y.JPEG', 'n02/a.JPEG', 'n01/z.JPEG', 'n02/b.JPEG']);
    const b = folder.read(0, 1, 4);
    expect(b[0]).toBeCloseTo(2 * (80 / 255 - 0.5), 1);
    writeFileSync(join(root, 'train', 'n01', 'y.JPEG'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]));
    expect(() => folder.read(0, 1, 4)).toThrow(/is a PNG image; only JPEG is decoded/);
    writeFileSync(join(root, 'train', 'n01', 'y.JPEG'), new Uint8Array([0xff, 0xd8, 1, 2, 3]));
    expect(() => folder.read(0, 1, 4)).toThrow(DatasetFormatError);
    expect(() => openVisionImages(join(tmp, 'nowhere'))).toThrow(DatasetNotFoundError);
    expect(() => openVisionImages(file('floats.npy', encodeNpy('<f4', [1, 2, 2, 3], new Float32Array(12))))).toThrow(
      /expected a uint8 array \[N, H, W, 3\]/,
    );
  });
});

describe('known checkpoints', () => {
  it("Table 1's ten checkpoints and R+Ti/16 are known by name with their buckets' URLs and resolutions", () => {
    expect(Object.keys(VISION_CHECKPOINTS)).toHaveLength(11);
    expect(VISION_CHECKPOINTS['vit-b16']).toMatchObject({
      path: 'vit_models/imagenet21k%2Bimagenet2012/ViT-B_16.npz',
      resolution: 384,
      training: 'standard',
    });
    expect(VISION_CHECKPOINTS['vit-l32-sam']).toMatchObject({ path: 'vit_models/sam/ViT-L_32.npz', resolution: 224, depth: 24 });
    expect(VISION_CHECKPOINTS['mixer-b16-sam'].path).toBe('mixer_models/sam/Mixer-B_16.npz');
    expect(isVisionCheckpointName('vit-b16')).toBe(true);
    expect(isVisionCheckpointName('toString')).toBe(false);
  });

  it('downloads by name from a local server: resumes an interrupted transfer, checks structure, refuses a damaged file', async () => {
    const good = new Uint8Array(readFileSync(join(fixtures, 'vit.npz')));
    const server = await startTestServer({
      'vit_models/sam/ViT-B_16.npz': good,
      'mixer_models/sam/Mixer-B_16.npz': good.subarray(0, 4000),
    });
    try {
      const dir = join(tmp, 'ckpts');
      server.modes.set('vit_models/sam/ViT-B_16.npz', 'truncate');
      await expect(downloadVisionCheckpoint('vit-b16-sam', { dir, baseUrl: server.baseUrl })).rejects.toThrow(DownloadError);
      expect(existsSync(join(dir, 'vit-b16-sam.npz.part'))).toBe(true);
      server.modes.set('vit_models/sam/ViT-B_16.npz', 'ok');
      const got = await downloadVisionCheckpoint('vit-b16-sam', { dir, baseUrl: server.baseUrl });
      expect(got).toMatchObject({ path: join(dir, 'vit-b16-sam.npz'), downloaded: true });
      expect(server.requests.at(-1)!.range).toMatch(/^bytes=\d+-$/);
      expect(new Uint8Array(readFileSync(got.path))).toEqual(good);
      expect((await downloadVisionCheckpoint('vit-b16-sam', { dir, baseUrl: server.baseUrl })).downloaded).toBe(false);
      // The server's whole file is a cut-off archive: refused, and the part is removed.
      await expect(downloadVisionCheckpoint('mixer-b16-sam', { dir, baseUrl: server.baseUrl })).rejects.toThrow(CorruptFileError);
      expect(existsSync(join(dir, 'mixer-b16-sam.npz.part'))).toBe(false);
      expect(existsSync(join(dir, 'mixer-b16-sam.npz'))).toBe(false);
      await expect(downloadVisionCheckpoint('vit-l16', { dir, download: false })).rejects.toThrow(DatasetNotFoundError);
      writeFileSync(join(dir, 'vit-l16.npz'), good.subarray(0, 100));
      await expect(downloadVisionCheckpoint('vit-l16', { dir, baseUrl: server.baseUrl })).rejects.toThrow(
        /already there but fails its check/,
      );
    } finally {
      await server.close();
    }
  });
});
