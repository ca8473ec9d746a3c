/**
 * Model I/O: NumPy .npy read/write (graphs/npy.ts) and `topsched run --input … --output-dir …
 * --check` against onnxruntime-node (experiments/commands/run-io.ts).
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareTensors, inputFileOption, outputFiles } from '../experiments/commands/run-io.js';
import { encodeNpy, parseNpy, readNpy, writeNpy } from '../graphs/npy.js';
import { nativeAvailable } from '../native/index.js';
import { cli } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'topsched-npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An .npy file as NumPy writes it: magic, version, header length, header dict, raw data. */
function npyBytes(descr: string, shape: number[], data: Uint8Array, opts: { version?: 1 | 2; fortran?: boolean } = {}): Uint8Array {
  const v = opts.version ?? 1;
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': (${dims}), }`;
  const pre = v === 1 ? 10 : 12;
  header += `${' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64)}\n`;
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, v, 0]);
  const dv = new DataView(out.buffer);
  if (v === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  out.set(h, pre);
  out.set(data, pre + h.length);
  return out;
}

describe('.npy files', () => {
  it('round-trip float32 and int64, scalars and 1-D included', () => {
    const cases = [
      { shape: [2, 3], dtype: 'float32' as const, data: Float32Array.from([1, -2.5, 3, 0, 1e-7, 6]) },
      { shape: [4], dtype: 'int64' as const, data: BigInt64Array.from([1n, -2n, 2n ** 40n, 0n]) },
      { shape: [], dtype: 'float32' as const, data: Float32Array.of(7) },
    ];
    for (const t of cases) {
      const bytes = encodeNpy(t);
      // Data starts on a 64-byte boundary, as NumPy aligns it.
      expect((bytes.length - t.data.byteLength) % 64).toBe(0);
      expect(parseNpy(bytes, 'x.npy')).toEqual(t);
    }
    const f = join(dir, 'a.npy');
    writeNpy(f, cases[0]);
    expect(readNpy(f)).toEqual(cases[0]);
  });

  it('converts float64, float16, int32, uint8 and bool; reads format 2.0', () => {
    const f64 = new Uint8Array(Float64Array.from([0.5, -1.25]).buffer);
    expect(parseNpy(npyBytes('<f8', [2], f64), 'd.npy')).toEqual({ shape: [2], dtype: 'float32', data: Float32Array.from([0.5, -1.25]) });
    const f16 = new Uint8Array(Uint16Array.from([0x3c00, 0xc000, 0x3555]).buffer); // 1, -2, ≈0.3333
    const h = parseNpy(npyBytes('<f2', [3], f16), 'h.npy').data as Float32Array;
    expect(Array.from(h.slice(0, 2))).toEqual([1, -2]);
    expect(h[2]).toBeCloseTo(1 / 3, 3);
    const i32 = new Uint8Array(Int32Array.from([7, -8]).buffer);
    expect(parseNpy(npyBytes('<i4', [1, 2], i32, { version: 2 }), 'i.npy')).toEqual({ shape: [1, 2], dtype: 'int64', data: BigInt64Array.from([7n, -8n]) });
    expect(parseNpy(npyBytes('|u1', [2], Uint8Array.of(255, 3)), 'u.npy').data).toEqual(BigInt64Array.from([255n, 3n]));
    expect(parseNpy(npyBytes('|b1', [2], Uint8Array.of(0, 1)), 'b.npy').data).toEqual(BigInt64Array.from([0n, 1n]));
  });

  it('refuses what it cannot read, naming the file and the reason', () => {
    const four = new Uint8Array(16);
    expect(() => parseNpy(new Uint8Array(20), 'z.npy')).toThrow(/z\.npy: not a usable \.npy file: it does not start with the \\x93NUMPY magic/);
    expect(() => parseNpy(npyBytes('<f4', [2, 2], four, { fortran: true }), 'f.npy')).toThrow(/fortran_order is True/);
    expect(() => parseNpy(npyBytes('>f4', [4], four), 'be.npy')).toThrow(/dtype '>f4' .*this one is big-endian/);
    expect(() => parseNpy(npyBytes('<c8', [2], four), 'c.npy')).toThrow(/dtype '<c8'/);
    expect(() => parseNpy(npyBytes('<f4', [5], four), 't.npy')).toThrow(/shape \(5\) of '<f4' needs 20 data bytes, the file has 16/);
    expect(() => parseNpy(npyBytes('<f4', [2], four).subarray(0, 30), 'cut.npy')).toThrow(/the header claims/);
  });
});

describe('run I/O helpers', () => {
  it('parses --input, names output files safely, compares like numpy.allclose', () => {
    expect(inputFileOption('x=a.npy', { y: 'b.npy' })).toEqual({ y: 'b.npy', x: 'a.npy' });
    expect(() => inputFileOption('x', {})).toThrow(/--input "x": expected name=file\.npy/);
    expect(() => inputFileOption('x=b.npy', { x: 'a.npy' })).toThrow(/--input gives 'x' twice/);
    expect(outputFiles(['logits', 'a/b:0'])).toEqual(['logits.npy', 'a_b_0.npy']);
    expect(() => outputFiles(['a/b', 'a:b'])).toThrow(/outputs 'a\/b' and 'a:b' would both be written as a_b\.npy/);
    const c = compareTensors(Float32Array.from([1, 2.001, 0]), Float32Array.from([1, 2, 1e-9]), 1e-4, 1e-3);
    expect(c.mismatched).toBe(0);
    expect(c.maxAbs).toBeCloseTo(0.001, 6);
    expect(compareTensors(Float32Array.from([1, 3]), Float32Array.from([1, 2]), 1e-4, 1e-3).mismatched).toBe(1);
  });
});

describe.skipIf(!nativeAvailable())('topsched run --input / --output-dir / --check', () => {
  it('feeds .npy inputs, writes .npy outputs, and agrees with onnxruntime-node', async () => {
    const model = join(dir, 'sq.onnx');
    await cli('graph', 'squeezenet1_1', '--out', model);
    const n = 3 * 224 * 224;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1e-3));
    writeNpy(join(dir, 'x.npy'), { shape: [1, 3, 224, 224], dtype: 'float32', data: x });
    const out = JSON.parse(
      await cli('run', model, '--input', `input=${join(dir, 'x.npy')}`, '--output-dir', join(dir, 'out'), '--check', '--repeat', '1', '--json'),
    );
    expect(out.check.ok).toBe(true);
    expect(out.check.outputs[0]).toMatchObject({ output: 'flatten', shape: [1, 1000], mismatched: 0, ok: true });
    expect(out.check.outputs[0].maxAbs).toBeLessThan(1e-3);
    expect(readdirSync(join(dir, 'out'))).toEqual(['flatten.npy']);
    const y = readNpy(join(dir, 'out', 'flatten.npy'));
    expect(y.shape).toEqual([1, 1000]);
    // A wrong shape is an error naming the input and the file; a wrong name lists the inputs.
    writeNpy(join(dir, 'bad.npy'), { shape: [1, 3, 8, 8], dtype: 'float32', data: new Float32Array(192) });
    await expect(cli('run', 'squeezenet1_1', '--input', `input=${join(dir, 'bad.npy')}`, '--repeat', '1')).rejects.toThrow(
      /--input input=.*bad\.npy: shape \[1,3,8,8\] but the model's input is \[1,3,224,224\]/,
    );
    await expect(cli('run', 'squeezenet1_1', '--input', `image=${join(dir, 'bad.npy')}`, '--repeat', '1')).rejects.toThrow(
      /the model has no input 'image' \(inputs: input \[1,3,224,224\] float32\)/,
    );
    writeFileSync(join(dir, 'junk.npy'), 'not numpy');
    await expect(cli('run', model, '--input', `input=${join(dir, 'junk.npy')}`)).rejects.toThrow(/junk\.npy: not a usable \.npy file/);
  }, 120_000);
});
