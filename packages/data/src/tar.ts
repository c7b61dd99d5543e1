/**
 * A small streaming tar reader (ustar, with pax `path` and GNU long names) and a writer for tests.
 * Archives come in arbitrary chunks from the gunzip stream, so the reader is a state machine that
 * passes file bytes through without buffering whole files.
 */

/** One archive member as the reader reports it. */
export interface TarEntryHeader {
  path: string;
  type: 'file' | 'directory' | 'other';
  size: number;
}

/** Callbacks for {@link TarReader}. `onFile` returns the sink for that file's bytes. */
export interface TarHandlers {
  onDirectory?(path: string): void;
  onFile(header: TarEntryHeader): { write(chunk: Uint8Array): void; end(): void };
}

/** The tar stream is malformed (bad checksum, truncated, unsupported size field). */
export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

const BLOCK = 512;
const decoder = new TextDecoder();

function cString(bytes: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && bytes[end] !== 0) end++;
  return decoder.decode(bytes.subarray(start, end));
}

function octal(bytes: Uint8Array, start: number, length: number): number {
  if ((bytes[start]! & 0x80) !== 0) {
    // GNU base-256 encoding for sizes >= 8 GiB: big-endian after the marker bit.
    let v = bytes[start]! & 0x7f;
    for (let i = 1; i < length; i++) v = v * 256 + bytes[start + i]!;
    return v;
  }
  const text = cString(bytes, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad octal field "${text}" in tar header`);
  return parseInt(text, 8);
}

function parsePax(data: Uint8Array): Record<string, string> {
  const text = decoder.decode(data);
  const out: Record<string, string> = {};
  let at = 0;
  while (at < text.length) {
    const space = text.indexOf(' ', at);
    if (space < 0) break;
    const len = parseInt(text.slice(at, space), 10);
    if (!(len > 0)) break;
    const record = text.slice(space + 1, at + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}

/** Streaming tar reader: `push` chunks, then `end`. */
export class TarReader {
  private header = new Uint8Array(BLOCK);
  private headerFill = 0;
  private remaining = 0;
  private padding = 0;
  private sink: { write(chunk: Uint8Array): void; end(): void } | undefined;
  private meta: { kind: 'pax' | 'longname'; parts: Uint8Array[] } | undefined;
  private nextPath: string | undefined;
  private zeroBlocks = 0;
  private finished = false;

  constructor(private readonly handlers: TarHandlers) {}

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length && !this.finished) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - at);
        const part = chunk.subarray(at, at + n);
        if (this.sink) this.sink.write(part);
        else if (this.meta) this.meta.parts.push(part.slice());
        this.remaining -= n;
        at += n;
        if (this.remaining === 0) this.finishEntry();
      } else if (this.padding > 0) {
        const n = Math.min(this.padding, chunk.length - at);
        this.padding -= n;
        at += n;
      } else {
        const n = Math.min(BLOCK - this.headerFill, chunk.length - at);
        this.header.set(chunk.subarray(at, at + n), this.headerFill);
        this.headerFill += n;
        at += n;
        if (this.headerFill === BLOCK) {
          this.headerFill = 0;
          this.readHeader();
        }
      }
    }
  }

  /** Checks the archive ended cleanly (not inside a member). */
  end(): void {
    // Some writers omit the two end-of-archive blocks, so ending on a member boundary is accepted.
    if (this.remaining > 0 || this.headerFill > 0) {
      throw new TarFormatError(`tar archive is truncated (${this.remaining} bytes of a member missing)`);
    }
  }

  private readHeader(): void {
    const h = this.header;
    if (h.every((b) => b === 0)) {
      this.zeroBlocks++;
      if (this.zeroBlocks >= 2) this.finished = true;
      return;
    }
    this.zeroBlocks = 0;
    const stored = octal(h, 148, 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (sum !== stored) throw new TarFormatError(`tar header checksum mismatch (stored ${stored}, computed ${sum})`);
    const size = octal(h, 124, 12);
    const typeflag = String.fromCharCode(h[156]!);
    let path = cString(h, 0, 100);
    if (cString(h, 257, 5) === 'ustar') {
      const prefix = cString(h, 345, 155);
      if (prefix) path = `${prefix}/${path}`;
    }
    if (this.nextPath !== undefined) {
      path = this.nextPath;
      this.nextPath = undefined;
    }
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.sink = undefined;
    this.meta = undefined;
    if (typeflag === 'x' || typeflag === 'L') {
      this.meta = { kind: typeflag === 'x' ? 'pax' : 'longname', parts: [] };
    } else if (typeflag === '0' || typeflag === '\0' || typeflag === '7') {
      this.sink = this.handlers.onFile({ path, type: 'file', size });
    } else if (typeflag === '5') {
      this.handlers.onDirectory?.(path);
    }
    // Other types (links, global pax 'g', devices) are skipped: data sets contain none we need.
    if (size === 0) this.finishEntry();
  }

  private finishEntry(): void {
    if (this.sink) {
      this.sink.end();
      this.sink = undefined;
    } else if (this.meta) {
      const total = this.meta.parts.reduce((s, p) => s + p.length, 0);
      const data = new Uint8Array(total);
      let at = 0;
      for (const p of this.meta.parts) {
        data.set(p, at);
        at += p.length;
      }
      if (this.meta.kind === 'pax') {
        const path = parsePax(data)['path'];
        if (path !== undefined) this.nextPath = path;
      } else {
        this.nextPath = cString(data, 0, data.length);
      }
      this.meta = undefined;
    }
  }
}

/** Builds an uncompressed ustar archive in memory (used by tests to make archives in the official layout). */
export function writeTar(entries: ReadonlyArray<{ path: string; data?: Uint8Array; directory?: boolean }>): Uint8Array {
  const enc = new TextEncoder();
  const blocks: Uint8Array[] = [];
  for (const e of entries) {
    const h = new Uint8Array(BLOCK);
    const name = enc.encode(e.path);
    if (name.length > 100) throw new RangeError(`writeTar: path longer than 100 bytes: ${e.path}`);
    h.set(name, 0);
    const size = e.directory ? 0 : (e.data?.length ?? 0);
    const field = (value: number, start: number, length: number) => h.set(enc.encode(value.toString(8).padStart(length - 1, '0')), start);
    field(e.directory ? 0o755 : 0o644, 100, 8);
    field(0, 108, 8);
    field(0, 116, 8);
    field(size, 124, 12);
    field(0, 136, 12);
    h[156] = (e.directory ? '5' : '0').charCodeAt(0);
    h.set(enc.encode('ustar\u000000'), 257);
    h.fill(32, 148, 156);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += h[i]!;
    h.set(enc.encode(sum.toString(8).padStart(6, '0') + '\u0000 '), 148);
    blocks.push(h);
    if (size > 0) {
      const padded = new Uint8Array(Math.ceil(size / BLOCK) * BLOCK);
      padded.set(e.data!, 0);
      blocks.push(padded);
    }
  }
  blocks.push(new Uint8Array(2 * BLOCK));
  const total = blocks.reduce((s, b) => s + b.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
