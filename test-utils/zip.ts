/**
 * Stored (uncompressed) zip archives for the .npz tests of @samrank/data and @samrank/experiments: what `np.savez`
 * writes, and with `zip64` the ZIP64 central directory and end records numpy uses for archives over 4 GB (every
 * size and offset in the classic fields set to its 0xFFFF… marker, the real values in the extra field).
 */
import { crc32 } from '@samrank/data';

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function storedZip(entries: Record<string, Uint8Array>, options: { zip64?: boolean } = {}): Uint8Array {
  const zip64 = options.zip64 ?? false;
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const n = new TextEncoder().encode(name);
    const local = new Uint8Array(30 + n.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, zip64 ? 45 : 20, true);
    lv.setUint32(14, crc32(data), true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, n.length, true);
    local.set(n, 30);
    const c = new Uint8Array(46 + n.length + (zip64 ? 28 : 0));
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint32(16, crc32(data), true);
    cv.setUint32(20, zip64 ? 0xffffffff : data.length, true);
    cv.setUint32(24, zip64 ? 0xffffffff : data.length, true);
    cv.setUint16(28, n.length, true);
    if (zip64) cv.setUint16(30, 28, true);
    cv.setUint32(42, zip64 ? 0xffffffff : offset, true);
    c.set(n, 46);
    if (zip64) {
      const e = 46 + n.length;
      cv.setUint16(e, 1, true);
      cv.setUint16(e + 2, 24, true);
      cv.setBigUint64(e + 4, BigInt(data.length), true);
      cv.setBigUint64(e + 12, BigInt(data.length), true);
      cv.setBigUint64(e + 20, BigInt(offset), true);
    }
    parts.push(local, data);
    central.push(c);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  if (!zip64) {
    ev.setUint16(8, central.length, true);
    ev.setUint16(10, central.length, true);
    ev.setUint32(12, cdSize, true);
    ev.setUint32(16, offset, true);
    return concat([...parts, ...central, end]);
  }
  ev.setUint16(8, 0xffff, true);
  ev.setUint16(10, 0xffff, true);
  ev.setUint32(12, 0xffffffff, true);
  ev.setUint32(16, 0xffffffff, true);
  const rec = new Uint8Array(56);
  const rv = new DataView(rec.buffer);
  rv.setUint32(0, 0x06064b50, true);
  rv.setBigUint64(4, 44n, true);
  rv.setBigUint64(24, BigInt(central.length), true);
  rv.setBigUint64(32, BigInt(central.length), true);
  rv.setBigUint64(40, BigInt(cdSize), true);
  rv.setBigUint64(48, BigInt(offset), true);
  const loc = new Uint8Array(20);
  const locView = new DataView(loc.buffer);
  locView.setUint32(0, 0x07064b50, true);
  locView.setBigUint64(8, BigInt(offset + cdSize), true);
  return concat([...parts, ...central, rec, loc, end]);
}
