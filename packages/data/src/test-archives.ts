/**
 * Test support (not exported from the package): small data sets in the official file formats and
 * layouts, and a local HTTP server that can serve them whole, truncated, corrupted, or by Range.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync as fflateGunzipSync, gzipSync, zipSync } from 'fflate';
import jpeg from 'jpeg-js';
import { CIFAR100_LAYOUT, CIFAR10_LAYOUT, encodeCifarBinary } from './cifar.js';
import { encodeIdx } from './idx.js';
import type { ImageSet } from './image-set.js';
import { createRng } from '@samrank/core';
import { writeTar } from './tar.js';

/** MD5 hex of bytes. */
export function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** Random images with labels below `numClasses`. */
export function randomImageSet(count: number, height: number, width: number, channels: number, numClasses: number, seed: number): ImageSet {
  const rng = createRng(seed);
  const images = new Uint8Array(count * height * width * channels);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.int(numClasses);
  return { images, labels, count, height, width, channels };
}

/** CIFAR-10 in the official tar.gz layout, with `perBatch` images per file (batches 1..5 then test). */
export function cifar10Archive(perBatch: number, seed = 1): { archive: Uint8Array; batches: ImageSet[] } {
  const names = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
  const batches = names.map((_, i) => randomImageSet(perBatch, 32, 32, 3, 10, seed * 100 + i));
  const meta = new TextEncoder().encode('airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n');
  const tar = writeTar([
    { path: 'cifar-10-batches-bin/', directory: true },
    ...names.map((n, i) => ({ path: `cifar-10-batches-bin/${n}`, data: encodeCifarBinary(batches[i]!, CIFAR10_LAYOUT) })),
    { path: 'cifar-10-batches-bin/batches.meta.txt', data: meta },
  ]);
  return { archive: gzipSync(tar), batches };
}

/** CIFAR-100 in the official tar.gz layout. */
export function cifar100Archive(trainCount: number, testCount: number, seed = 2): { archive: Uint8Array; train: ImageSet; test: ImageSet } {
  const train = randomImageSet(trainCount, 32, 32, 3, 100, seed);
  const test = randomImageSet(testCount, 32, 32, 3, 100, seed + 1);
  const coarse = (s: ImageSet) => Array.from(s.labels, (l) => Math.floor(l / 5));
  const tar = writeTar([
    { path: 'cifar-100-binary/train.bin', data: encodeCifarBinary(train, CIFAR100_LAYOUT, coarse(train)) },
    { path: 'cifar-100-binary/test.bin', data: encodeCifarBinary(test, CIFAR100_LAYOUT, coarse(test)) },
  ]);
  return { archive: gzipSync(tar), train, test };
}

/** A solid-colour 64×64 RGB JPEG (encoded by jpeg-js). */
export function solidJpeg(r: number, g: number, b: number, size = 64): Uint8Array {
  const data = new Uint8Array(size * size * 4);
  for (let i = 0; i < size * size; i++) data.set([r, g, b, 255], 4 * i);
  return new Uint8Array(jpeg.encode({ data, width: size, height: size }, 95).data);
}

/**
 * A hand-assembled baseline JPEG with a single (grey) component, uniformly `128 + dc/8` — jpeg-js
 * only encodes colour, and Tiny ImageNet has grey images that must come out as 3 equal channels.
 * Huffman tables: DC codes '00' → size 0, '01' → size 7; AC code '0' → end of block.
 */
export function greyJpeg(size = 64, dc = 64): Uint8Array {
  if (size % 8 !== 0 || dc < 64 || dc > 127) throw new RangeError('greyJpeg: size multiple of 8, dc in 64..127');
  const bytes: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]) => bytes.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
  segment(0xdb, [0x00, ...new Array<number>(64).fill(1)]);
  segment(0xc0, [8, size >> 8, size & 0xff, size >> 8, size & 0xff, 1, 1, 0x11, 0]);
  const dcCounts = new Array<number>(16).fill(0);
  dcCounts[1] = 2;
  segment(0xc4, [0x00, ...dcCounts, 0, 7]);
  const acCounts = new Array<number>(16).fill(0);
  acCounts[0] = 1;
  segment(0xc4, [0x10, ...acCounts, 0x00]);
  segment(0xda, [1, 1, 0x00, 0, 63, 0]);
  let bits = '01' + dc.toString(2).padStart(7, '0') + '0';
  for (let i = 1; i < (size / 8) ** 2; i++) bits += '000';
  while (bits.length % 8) bits += '1';
  for (let i = 0; i < bits.length; i += 8) {
    const byte = parseInt(bits.slice(i, i + 8), 2);
    bytes.push(byte);
    if (byte === 0xff) bytes.push(0);
  }
  bytes.push(0xff, 0xd9);
  return Uint8Array.from(bytes);
}

/** Colours used for the generated Tiny ImageNet classes (one per wnid). */
export const TINY_COLOURS: Record<string, [number, number, number]> = {
  n01443537: [200, 30, 30],
  n01629819: [30, 200, 30],
  n01641577: [30, 30, 200],
};

/**
 * A Tiny ImageNet zip in the official layout: `perClass` training JPEGs per class (solid colours;
 * the class n01641577 has one grey image), 2 validation images per class, wnids.txt and words.txt.
 */
export function tinyImageNetZip(perClass: number): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  const enc = new TextEncoder();
  // wnids.txt in a non-sorted order: class index must come from the sorted folder names.
  const wnids = Object.keys(TINY_COLOURS).reverse();
  files['tiny-imagenet-200/wnids.txt'] = enc.encode(wnids.join('\n') + '\n');
  files['tiny-imagenet-200/words.txt'] = enc.encode(wnids.map((w) => `${w}\tthing ${w}`).join('\n') + '\n');
  const annotations: string[] = [];
  let v = 0;
  for (const [wnid, [r, g, b]] of Object.entries(TINY_COLOURS)) {
    for (let i = 0; i < perClass; i++) {
      const img = wnid === 'n01641577' && i === 0 ? greyJpeg() : solidJpeg(r, g, b);
      files[`tiny-imagenet-200/train/${wnid}/images/${wnid}_${i}.JPEG`] = img;
    }
    files[`tiny-imagenet-200/train/${wnid}/${wnid}_boxes.txt`] = enc.encode('');
    for (let i = 0; i < 2; i++) {
      const name = `val_${v++}.JPEG`;
      files[`tiny-imagenet-200/val/images/${name}`] = solidJpeg(r, g, b);
      annotations.push(`${name}\t${wnid}\t0\t0\t63\t63`);
    }
  }
  files['tiny-imagenet-200/val/val_annotations.txt'] = enc.encode(annotations.join('\n') + '\n');
  files['tiny-imagenet-200/test/images/test_0.JPEG'] = solidJpeg(0, 0, 0);
  return zipSync(files, { level: 1 });
}

/** Fashion-MNIST-format files (gzipped IDX) for `train` and `test` sets of 28×28×1 images. */
export function fashionMnistFiles(train: ImageSet, test: ImageSet): Record<string, Uint8Array> {
  const idx = (s: ImageSet) => gzipSync(encodeIdx([s.count, s.height, s.width], s.images));
  const lab = (s: ImageSet) => gzipSync(encodeIdx([s.count], Uint8Array.from(s.labels)));
  return {
    'train-images-idx3-ubyte.gz': idx(train),
    'train-labels-idx1-ubyte.gz': lab(train),
    't10k-images-idx3-ubyte.gz': idx(test),
    't10k-labels-idx1-ubyte.gz': lab(test),
  };
}

/** Ways to damage a gzip file, as the integrity tests need them. */
export type GzipDamage = 'deflate' | 'crc' | 'isize' | 'truncate';

/**
 * A damaged copy of a single-member gzip file. 'deflate' flips one bit inside the deflate stream at a
 * place where fflate still inflates to the same length without complaint (the silent corruption zlib's
 * CRC check exists for); 'crc' / 'isize' flip a bit of the trailer; 'truncate' drops the last 100 bytes.
 */
export function damageGzip(gz: Uint8Array, damage: GzipDamage): Uint8Array {
  const out = gz.slice();
  if (damage === 'crc') out[out.length - 8]! ^= 0x01;
  else if (damage === 'isize') out[out.length - 4]! ^= 0x01;
  else if (damage === 'truncate') return gz.slice(0, Math.max(10, gz.length - 100));
  else {
    const clean = fflateGunzipSync(gz);
    for (let at = Math.floor(gz.length / 2); at < gz.length - 8; at++) {
      for (const bit of [0x01, 0x10, 0x80]) {
        const copy = gz.slice();
        copy[at]! ^= bit;
        try {
          const inflated = fflateGunzipSync(copy);
          if (inflated.length === clean.length && inflated.some((v, i) => v !== clean[i])) return copy;
        } catch {
          // This flip breaks the deflate structure: look for one that silently changes the data.
        }
      }
    }
    throw new Error('damageGzip: no silently corrupting flip found');
  }
  return out;
}

/** How the test server answers a request for one file. */
export type ServeMode = 'ok' | 'truncate' | 'corrupt' | 'no-range' | 'missing';

/** A local HTTP server on 127.0.0.1 (ephemeral port) serving in-memory files. */
export interface TestServer {
  baseUrl: string;
  files: Map<string, Uint8Array>;
  /** Per-file behaviour of the next requests (default 'ok'). */
  modes: Map<string, ServeMode>;
  /** Range headers seen, per request, in order. */
  requests: { path: string; range: string | undefined }[];
  close(): Promise<void>;
}

/** Starts the server. 'truncate' sends the full Content-Length, then half the bytes and drops the socket. */
export async function startTestServer(files: Record<string, Uint8Array>): Promise<TestServer> {
  const state = { files: new Map(Object.entries(files)), modes: new Map<string, ServeMode>(), requests: [] as TestServer['requests'] };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!.replace(/^\/+/, ''));
    const range = req.headers['range'];
    state.requests.push({ path, range });
    const body = state.files.get(path);
    const mode = state.modes.get(path) ?? 'ok';
    if (!body || mode === 'missing') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    let data = body;
    if (mode === 'corrupt') {
      data = body.slice();
      const mid = Math.floor(data.length / 2);
      data[mid] = data[mid]! ^ 0xff;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(range ?? '');
    if (m && mode !== 'no-range') {
      start = Number(m[1]);
      if (start >= data.length) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
        return;
      }
      res.writeHead(206, {
        'content-length': String(data.length - start),
        'content-range': `bytes ${start}-${data.length - 1}/${data.length}`,
      });
    } else {
      res.writeHead(200, { 'content-length': String(data.length) });
    }
    const rest = data.subarray(start);
    if (mode === 'truncate') {
      res.write(rest.subarray(0, Math.floor(rest.length / 2)), () => res.destroy());
      return;
    }
    res.end(rest);
  };
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/`,
    ...state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
