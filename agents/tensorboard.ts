/**
 * TensorBoard event files, written without TensorFlow: TFRecord framing around hand-encoded
 * `tensorflow.Event` protobufs, and a reader that parses them back and verifies every checksum.
 *
 * TFRecord record:  uint64 length (LE) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
 * masked_crc32c(x) = ((c >>> 15) | (c << 17)) + 0xa282ead8, c = CRC-32C (Castagnoli) of x.
 *
 * Protobuf messages used (tensorflow/core/util/event.proto, summary.proto):
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 * The first record of a file carries file_version "brain.Event:2"; then one Event per scalar.
 * Each record is appended with a single write, so a reader never sees half a record from a live run
 * beyond the last one (which TensorBoard tolerates, and `readEvents` reports as truncated).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// ─── CRC-32C ────────────────────────────────────────────────────────────────────────────────────

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `data`. */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant, so CRCs of CRCs stay useful. */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

// ─── TFRecord framing ───────────────────────────────────────────────────────────────────────────

export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** Splits a TFRecord stream into records, verifying both CRCs of each; errors name the byte offset. */
export function readRecords(buf: Uint8Array, where = 'tfrecord'): { records: Uint8Array[]; truncated: boolean } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: Uint8Array[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 12 > buf.length) return { records, truncated: true };
    const len = Number(view.getBigUint64(at, true));
    if (view.getUint32(at + 8, true) !== maskedCrc32c(buf.subarray(at, at + 8))) throw new Error(`${where}: bad length CRC at byte ${at}`);
    if (at + 16 + len > buf.length) return { records, truncated: true };
    const data = buf.subarray(at + 12, at + 12 + len);
    if (view.getUint32(at + 12 + len, true) !== maskedCrc32c(data)) throw new Error(`${where}: bad data CRC in the record at byte ${at}`);
    records.push(data);
    at += 16 + len;
  }
  return { records, truncated: false };
}

// ─── Protobuf (just the wire types these messages need) ────────────────────────────────────────

/** A protobuf writer for the few messages TensorBoard needs (also the hparams plugin's, tensorboard-hparams.ts). */
export class ProtoWriter {
  private parts: number[] = [];

  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.parts.push(Number(x));
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int64(field: number, v: number): this {
    this.key(field, 0);
    this.varint(BigInt(Math.trunc(v)));
    return this;
  }

  double(field: number, v: number): this {
    this.key(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.parts.push(...b);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export interface Field {
  field: number;
  wire: number;
  /** varint (as bigint), fixed64/fixed32 raw bytes, or length-delimited bytes. */
  value: bigint | Uint8Array;
}

export function parseMessage(buf: Uint8Array, where: string): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let x = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= buf.length) throw new Error(`${where}: varint runs past the end`);
      const b = buf[at++];
      x |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return x;
      shift += 7n;
    }
  };
  while (at < buf.length) {
    const k = Number(varint());
    const field = k >>> 3;
    const wire = k & 7;
    let value: bigint | Uint8Array;
    if (wire === 0) value = varint();
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (at + n > buf.length) throw new Error(`${where}: fixed field ${field} runs past the end`);
      value = buf.subarray(at, at + n);
      at += n;
    } else if (wire === 2) {
      const n = Number(varint());
      if (at + n > buf.length) throw new Error(`${where}: field ${field} (${n} bytes) runs past the end`);
      value = buf.subarray(at, at + n);
      at += n;
    } else throw new Error(`${where}: unsupported wire type ${wire} (field ${field})`);
    out.push({ field, wire, value });
  }
  return out;
}

// ─── Events ─────────────────────────────────────────────────────────────────────────────────────

export interface ScalarEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  /** Scalars of the event's summary, tag → value. */
  values: { tag: string; value: number }[];
  /** Plugin summaries (metadata.plugin_data), e.g. the hparams plugin's: tag, plugin name, content bytes. */
  plugins?: { tag: string; plugin: string; content: Uint8Array }[];
}

export function encodeFileVersionEvent(wallTime: number): Uint8Array {
  return new ProtoWriter().double(1, wallTime).int64(2, 0).string(3, 'brain.Event:2').finish();
}

export function encodeScalarEvent(wallTime: number, step: number, values: { tag: string; value: number }[]): Uint8Array {
  const summary = new ProtoWriter();
  for (const { tag, value } of values) summary.bytes(1, new ProtoWriter().string(1, tag).float(2, value).finish());
  return new ProtoWriter().double(1, wallTime).int64(2, step).bytes(5, summary.finish()).finish();
}

export function decodeEvent(data: Uint8Array, where = 'event'): ScalarEvent {
  const ev: ScalarEvent = { wallTime: 0, step: 0, values: [] };
  const dec = new TextDecoder();
  for (const f of parseMessage(data, where)) {
    if (f.field === 1 && f.wire === 1) ev.wallTime = new DataView(Uint8Array.from(f.value as Uint8Array).buffer).getFloat64(0, true);
    else if (f.field === 2 && f.wire === 0) ev.step = Number(BigInt.asIntN(64, f.value as bigint));
    else if (f.field === 3 && f.wire === 2) ev.fileVersion = dec.decode(f.value as Uint8Array);
    else if (f.field === 5 && f.wire === 2) {
      for (const v of parseMessage(f.value as Uint8Array, `${where}.summary`)) {
        if (v.field !== 1 || v.wire !== 2) continue;
        let tag = '';
        let value = Number.NaN;
        let plugin: { plugin: string; content: Uint8Array } | null = null;
        for (const x of parseMessage(v.value as Uint8Array, `${where}.summary.value`)) {
          if (x.field === 1 && x.wire === 2) tag = dec.decode(x.value as Uint8Array);
          else if (x.field === 2 && x.wire === 5) value = new DataView(Uint8Array.from(x.value as Uint8Array).buffer).getFloat32(0, true);
          else if (x.field === 9 && x.wire === 2)
            for (const m of parseMessage(x.value as Uint8Array, `${where}.summary.value.metadata`)) {
              if (m.field !== 1 || m.wire !== 2) continue;
              plugin = { plugin: '', content: new Uint8Array() };
              for (const d of parseMessage(m.value as Uint8Array, `${where}.summary.value.metadata.plugin_data`)) {
                if (d.field === 1 && d.wire === 2) plugin.plugin = dec.decode(d.value as Uint8Array);
                else if (d.field === 2 && d.wire === 2) plugin.content = Uint8Array.from(d.value as Uint8Array);
              }
            }
        }
        if (plugin) (ev.plugins ??= []).push({ tag, ...plugin });
        else ev.values.push({ tag, value });
      }
    }
  }
  return ev;
}

/** Reads an event file: every record's CRCs checked, every event decoded. */
export function readEvents(file: string): { events: ScalarEvent[]; truncated: boolean } {
  const { records, truncated } = readRecords(fs.readFileSync(file), file);
  return { events: records.map((r, i) => decodeEvent(r, `${file} record ${i}`)), truncated };
}

// ─── Writer ─────────────────────────────────────────────────────────────────────────────────────

/** Anything that takes scalars: the TensorBoard writer, the CSV logger, a fan-out of both. */
export interface MetricsSink {
  scalar(tag: string, value: number, step: number): void;
  /** Several scalars of one step (one event / row each). */
  scalars(values: Record<string, number>, step: number): void;
  close(): void;
}

export class TensorBoardWriter implements MetricsSink {
  file = '';
  private fd = -1;

  /** Creates `logdir` and a new `events.out.tfevents.<secs>.<host>` file in it. */
  constructor(
    logdir: string,
    private readonly clock: () => number = () => Date.now() / 1000,
  ) {
    fs.mkdirSync(logdir, { recursive: true });
    const now = this.clock();
    // Two sessions of one process within a second (a quick resume) get distinct files.
    const base = path.join(logdir, `events.out.tfevents.${Math.floor(now)}.${os.hostname()}.${process.pid}`);
    for (let k = 0; ; k++) {
      this.file = k ? `${base}.${k}` : base;
      try {
        this.fd = fs.openSync(this.file, 'wx');
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || k >= 1000) throw e;
      }
    }
    this.append(encodeFileVersionEvent(now));
  }

  private append(event: Uint8Array): void {
    if (this.fd < 0) throw new Error(`${this.file}: writer is closed`);
    const rec = frameRecord(event);
    for (let at = 0; at < rec.length; ) at += fs.writeSync(this.fd, rec, at, rec.length - at);
  }

  scalar(tag: string, value: number, step: number): void {
    this.append(encodeScalarEvent(this.clock(), step, [{ tag, value }]));
  }

  scalars(values: Record<string, number>, step: number): void {
    const list = Object.entries(values).map(([tag, value]) => ({ tag, value }));
    if (list.length) this.append(encodeScalarEvent(this.clock(), step, list));
  }

  close(): void {
    if (this.fd >= 0) {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}
