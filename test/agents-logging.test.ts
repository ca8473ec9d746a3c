import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CsvLogger, fanOut, readCsvLog } from '../agents/metrics.js';
import { ProgressBar } from '../agents/progress.js';
import { crc32c, decodeEvent, encodeScalarEvent, frameRecord, maskedCrc32c, readEvents, readRecords, TensorBoardWriter } from '../agents/tensorboard.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'topsched-log-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const bytes = (s: string) => new TextEncoder().encode(s);

describe('CRC-32C', () => {
  it('matches the published check values', () => {
    expect(crc32c(bytes('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    // RFC 3720 (iSCSI) appendix B.4 vectors.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    const c = 0xe3069283;
    expect(maskedCrc32c(bytes('123456789'))).toBe((((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0);
  });
});

describe('TensorBoard events', () => {
  it('encodes a scalar event byte for byte as protobuf would', () => {
    const ev = encodeScalarEvent(1.5, 3, [{ tag: 'a', value: 2 }]);
    const hex = Buffer.from(ev).toString('hex');
    expect(hex).toBe(['09', '000000000000f83f', '1003', '2a0a', '0a08', '0a0161', '1500000040'].join(''));
    expect(decodeEvent(ev)).toEqual({ wallTime: 1.5, step: 3, values: [{ tag: 'a', value: 2 }] });
  });

  it('writes a file TensorBoard can read: version record first, then scalars, all CRCs valid', () => {
    let t = 1000;
    const w = new TensorBoardWriter(path.join(tmp, 'tb'), () => (t += 0.5));
    w.scalar('loss/critic', 0.25, 1);
    w.scalars({ 'episode/return': 7.125, 'episode/length': 10 }, 2);
    w.scalar('big-step', -1.5, 2 ** 40);
    w.close();
    expect(path.basename(w.file)).toMatch(/^events\.out\.tfevents\.\d+\./);
    const { events, truncated } = readEvents(w.file);
    expect(truncated).toBe(false);
    expect(events[0].fileVersion).toBe('brain.Event:2');
    expect(events[0].wallTime).toBe(1000.5);
    expect(events.slice(1).map((e) => [e.step, e.values])).toEqual([
      [1, [{ tag: 'loss/critic', value: 0.25 }]],
      [
        2,
        [
          { tag: 'episode/return', value: 7.125 },
          { tag: 'episode/length', value: 10 },
        ],
      ],
      [2 ** 40, [{ tag: 'big-step', value: -1.5 }]],
    ]);

    const raw = fs.readFileSync(w.file);
    const cut = readRecords(raw.subarray(0, raw.length - 3));
    expect(cut.truncated).toBe(true);
    expect(cut.records.length).toBe(events.length - 1);
    const bad = Uint8Array.from(raw);
    bad[20] ^= 1;
    expect(() => readRecords(bad, 'f')).toThrow(/f: bad data CRC in the record at byte 0/);
    const framed = frameRecord(bytes('x'));
    framed[0] = 9;
    expect(() => readRecords(framed)).toThrow(/bad length CRC at byte 0/);
  });
});

describe('CSV logger and progress bar', () => {
  it('round-trips rows, quoting awkward tags; fans out to several sinks', () => {
    const file = path.join(tmp, 'm.csv');
    const csv = new CsvLogger(file, 2, () => 5);
    const tb = new TensorBoardWriter(path.join(tmp, 'tb2'));
    const sink = fanOut(csv, tb);
    sink.scalar('a', 1, 0);
    sink.scalars({ 'b,"c"': 2.5, d: -3 }, 7);
    sink.close();
    expect(readCsvLog(file)).toEqual([
      { step: 0, tag: 'a', value: 1, wallTime: 5 },
      { step: 7, tag: 'b,"c"', value: 2.5, wallTime: 5 },
      { step: 7, tag: 'd', value: -3, wallTime: 5 },
    ]);
    expect(readEvents(tb.file).events.length).toBe(3);
  });

  it('draws only on a TTY', () => {
    const written: string[] = [];
    const fake = (isTTY: boolean) => ({ isTTY, write: (s: string) => written.push(s) }) as unknown as NodeJS.WriteStream;
    const off = new ProgressBar({ total: 10, stream: fake(false) });
    off.update(5);
    off.done();
    expect(off.enabled).toBe(false);
    expect(written).toEqual([]);
    const on = new ProgressBar({ total: 10, stream: fake(true), label: 'train', intervalMs: 0, width: 10 });
    on.update(5, { loss: 0.123456 });
    on.done();
    expect(written.length).toBe(2);
    expect(written[0]).toMatch(/^\rtrain \[#####\.\.\.\.\.\] 5\/10 .* loss=0\.1235/);
    expect(written[1].endsWith('\n')).toBe(true);
  });
});
