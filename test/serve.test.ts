/**
 * `topsched serve` end to end on loopback: KServe v2 endpoints, JSON and binary infer with outputs
 * equal to the native executor's and onnxruntime's, metrics under Triton's names, the 400/404/503
 * paths, the load generator against it, and SIGTERM draining with nothing lost.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LAUNCHER, SCHEDULER } from '../env/async-inference-env.js';
import { makePolicy } from '../env/policies.js';
import { ServingEngine } from '../experiments/serve/engine.js';
import { runLoad } from '../experiments/serve/load.js';
import { parsePrometheus } from '../experiments/serve/metrics.js';
import { createServer, type Server } from '../experiments/serve/server.js';
import { GraphBuilder } from '../graphs/builder.js';
import { devicePreset, RooflineCostModel } from '../graphs/cost/roofline.js';
import type { Graph } from '../graphs/ir.js';
import { graphToString } from '../graphs/json.js';
import { partition } from '../graphs/partition/index.js';
import { NativeExecutor, nativeAvailable } from '../native/index.js';
import { ortOutputs, relDiff } from './native-helpers.js';

function netGraph(name: string): Graph {
  const b = new GraphBuilder(name);
  let x = b.input('image', [1, 8, 16, 16]);
  const a = b.relu(b.conv(x, { out: 8, kernel: 3, pad: 1 }));
  const c = b.relu(b.conv(x, { out: 8, kernel: 1 }));
  x = b.concat([a, c]);
  b.output(b.linear(b.flatten(b.globalAvgPool(x)), 10));
  return b.build();
}

const graph = netGraph('net');
const N_IN = 8 * 16 * 16;
const input = (k: number) => Float32Array.from({ length: N_IN }, (_, i) => Math.sin(i * 0.37 + k));
const envOptions = (maxQueue = 1024) => ({
  workload: { name: 'serve-test', models: [{ name: 'net', sloMs: 100, maxQueue, arrival: { kind: 'poisson', rate: 100 } }] },
  graphs: { net: graph },
  streams: 2,
  epochMs: 2,
  batchSizes: [1, 2, 4],
});
const post = (url: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(url, { method: 'POST', body, headers });
const jsonBody = (data: number[] | Float32Array, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ inputs: [{ name: 'image', shape: [1, 8, 16, 16], datatype: 'FP32', data: Array.from(data), ...extra }] });

describe.runIf(nativeAvailable())('serve', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    const engine = new ServingEngine({ env: envOptions(), policy: (env) => makePolicy('greedy-release', env) });
    server = createServer({ engine, bodyLimit: 256 << 10 });
    await engine.start();
    base = await server.listen(0);
  });
  afterAll(async () => server?.close());

  test('health, server and model metadata', async () => {
    expect((await fetch(`${base}/v2/health/live`)).status).toBe(200);
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
    expect((await fetch(`${base}/v2/models/net/ready`)).status).toBe(200);
    expect(await (await fetch(`${base}/v2`)).json()).toMatchObject({ name: 'topsched', extensions: ['binary_tensor_data'] });
    const meta = await (await fetch(`${base}/v2/models/net`)).json();
    expect(meta).toMatchObject({ name: 'net', versions: ['1'], inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 8, 16, 16] }] });
    expect(meta.outputs[0].shape).toEqual([1, 10]);
  });

  test('JSON and binary infer answer the native executor’s and onnxruntime’s outputs, batched or not', async () => {
    const outName = graph.outputs[0].name;
    const ex = new NativeExecutor({ streams: 1 });
    const h = await ex.loadModel(graph, { seed: 0 });
    const K = 6;
    const want: Float32Array[] = [];
    for (let k = 0; k < K; k++) {
      const r = await ex.run(
        [{ model: h, schedule: partition(graph, 'sequential', new RooflineCostModel(devicePreset('cpu-2core'))).schedule, inputs: [input(k)] }],
        { outputs: true },
      );
      want.push(r.tasks[0].outputs?.[outName] as Float32Array);
    }
    ex.close();
    const ort0 = (await ortOutputs(graph, 0, [input(0)])).get(outName) as Float32Array;
    expect(relDiff(want[0], ort0)).toBeLessThan(1e-4);
    // Concurrent requests: greedy release batches them (up to 4), the outputs are split back per request.
    const answers = await Promise.all(
      Array.from({ length: K }, async (_, k) => {
        if (k % 2 === 0) {
          const r = await post(`${base}/v2/models/net/infer`, jsonBody(input(k), {}));
          expect(r.status).toBe(200);
          const j = await r.json();
          expect(j.model_name).toBe('net');
          expect(j.outputs[0]).toMatchObject({ name: outName, datatype: 'FP32', shape: [1, 10] });
          return Float32Array.from(j.outputs[0].data as number[]);
        }
        const head = Buffer.from(
          JSON.stringify({
            id: `req-${k}`,
            inputs: [{ name: 'image', shape: [1, 8, 16, 16], datatype: 'FP32', parameters: { binary_data_size: N_IN * 4 } }],
            outputs: [{ name: outName, parameters: { binary_data: true } }],
          }),
        );
        const x = input(k);
        const body = Buffer.concat([head, Buffer.from(x.buffer, x.byteOffset, x.byteLength)]);
        const r = await post(`${base}/v2/models/net/infer`, body, {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(head.length),
        });
        expect(r.status).toBe(200);
        const n = Number(r.headers.get('inference-header-content-length'));
        const bytes = Buffer.from(await r.arrayBuffer());
        const j = JSON.parse(bytes.subarray(0, n).toString('utf8'));
        expect(j.id).toBe(`req-${k}`);
        expect(j.outputs[0].parameters.binary_data_size).toBe(40);
        return new Float32Array(new Uint8Array(bytes.subarray(n)).buffer);
      }),
    );
    for (let k = 0; k < K; k++) expect(relDiff(answers[k], want[k])).toBeLessThan(1e-4);
  });

  test('bad requests get 400/404 with an error; the server keeps serving', async () => {
    const url = `${base}/v2/models/net/infer`;
    const cases: [Promise<Response>, number, RegExp][] = [
      [post(url, '{"inputs": [}'), 400, /malformed JSON/],
      [post(url, JSON.stringify({ inputs: [{ name: 'image', shape: [1, 8, 16], datatype: 'FP32', data: [1] }] })), 400, /shape must be \[1,8,16,16\]/],
      [post(url, JSON.stringify({ inputs: [{ name: 'image', shape: [1, 8, 16, 16], datatype: 'INT64', data: [1] }] })), 400, /datatype must be FP32/],
      [post(url, JSON.stringify({ inputs: [{ name: 'other', shape: [1], datatype: 'FP32', data: [1] }] })), 400, /no input 'other'/],
      [post(url, jsonBody([1, 2, 3])), 400, /3 values for shape/],
      [
        post(url, jsonBody(input(0)), { 'content-type': 'application/json', 'inference-header-content-length': '99999999' }),
        400,
        /Inference-Header-Content-Length/,
      ],
      [post(url, Buffer.alloc(300 << 10, 32)), 400, /over the limit/],
      [post(`${base}/v2/models/nope/infer`, jsonBody(input(0))), 404, /unknown model 'nope'/],
      [fetch(`${base}/v2/models/net/versions/7`), 404, /no version '7'/],
    ];
    for (const [p, status, msg] of cases) {
      const r = await p;
      expect(r.status).toBe(status);
      expect((await r.json()).error).toMatch(msg);
    }
    expect((await post(url, jsonBody(input(1)))).status).toBe(200);
  });

  test('metrics parse under Triton’s names and count what was served', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const samples = parsePrometheus(text).filter((s) => s.labels.model === 'net' && s.labels.version === '1');
    const get = (n: string) => samples.find((s) => s.name === n)?.value;
    for (const n of [
      'nv_inference_request_success',
      'nv_inference_request_failure',
      'nv_inference_count',
      'nv_inference_exec_count',
      'nv_inference_request_duration_us',
      'nv_inference_queue_duration_us',
      'nv_inference_compute_infer_duration_us',
      'nv_inference_pending_request_count',
    ])
      expect(get(n), n).toBeTypeOf('number');
    expect(get('nv_inference_request_success')).toBeGreaterThanOrEqual(7);
    expect(get('nv_inference_count')).toBe(get('nv_inference_request_success'));
    expect(get('nv_inference_exec_count')).toBeLessThanOrEqual(get('nv_inference_count') as number);
    expect(get('nv_inference_request_failure')).toBeGreaterThanOrEqual(6);
    expect(get('nv_inference_compute_infer_duration_us')).toBeGreaterThan(0);
    expect(get('nv_inference_pending_request_count')).toBe(0);
  });

  test('the load generator: open and closed loop, with the server’s queue and compute time', async () => {
    const closed = await runLoad({ url: base, model: 'net', mode: { kind: 'closed', concurrency: 3 }, durationS: 0.6, warmupS: 0.1, binary: true });
    expect(closed.failures).toBe(0);
    expect(closed.completed).toBeGreaterThan(10);
    expect(closed.p50Ms).toBeGreaterThan(0);
    expect(closed.p99Ms).toBeGreaterThanOrEqual(closed.p50Ms);
    expect(closed.serverComputeUs).toBeGreaterThan(0);
    expect(closed.serverQueueUs).not.toBeNull();
    const open = await runLoad({ url: base, model: 'net', mode: { kind: 'poisson', rate: 200 }, durationS: 0.5, seed: 1 });
    expect(open.failures).toBe(0);
    expect(open.sent).toBe(open.completed);
    // A Poisson process of 200/s over 0.5 s sends about 100 requests.
    expect(open.sent).toBeGreaterThan(50);
    expect(open.sent).toBeLessThan(170);
    await expect(runLoad({ url: 'http://example.com:80', model: 'net', mode: { kind: 'closed', concurrency: 1 }, durationS: 1 })).rejects.toThrow(
      /not a loopback/,
    );
  });
});

describe.runIf(nativeAvailable())('serve under overload and shutdown', () => {
  test('a full queue answers 503 instead of growing', async () => {
    // A policy that never releases: the queue fills at maxQueue and the rest are refused.
    const hold = { act: () => ({ [LAUNCHER]: Int32Array.of(0), [SCHEDULER]: Int32Array.of(0, 0) }) };
    const engine = new ServingEngine({ env: envOptions(3), policy: () => hold as never });
    const server = createServer({ engine });
    await engine.start();
    const base = await server.listen(0);
    const inflight = Array.from({ length: 3 }, () => post(`${base}/v2/models/net/infer`, jsonBody(input(0))));
    await new Promise((r) => setTimeout(r, 50));
    const r = await post(`${base}/v2/models/net/infer`, jsonBody(input(0)));
    expect(r.status).toBe(503);
    expect((await r.json()).error).toMatch(/queue is full \(3 requests\)/);
    expect(engine.pending()).toBe(3);
    // Draining with a policy that never releases would never end: swap in one that does.
    // Release all three as one launch (level 8, batch 4 → a launch of 3).
    (hold as { act: () => unknown }).act = () => ({ [LAUNCHER]: Int32Array.of(4), [SCHEDULER]: Int32Array.of(0, 2) });
    await server.close();
    const outs = await Promise.all(
      inflight.map(async (p) => {
        const r = await p;
        expect(r.status).toBe(200);
        return (await r.json()).outputs[0].data as number[];
      }),
    );
    // Same input, so the same answer from each slice of the batched launch.
    for (const o of outs) expect(relDiff(o, outs[0])).toBeLessThan(1e-5);
    const m = parsePrometheus(await server.metrics.registry.metrics());
    const v = (n: string) => m.find((x) => x.name === n && x.labels.model === 'net')?.value;
    expect(v('nv_inference_count')).toBe(3);
    expect(v('nv_inference_exec_count')).toBe(1);
    expect(v('nv_inference_request_failure')).toBe(1);
  });

  test('SIGTERM: stops accepting, answers every accepted request, exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topsched-serve-'));
    const file = join(dir, 'net.json');
    writeFileSync(file, graphToString(graph));
    // Long epochs: accepted requests wait in the queue when SIGTERM comes.
    const child = spawn(process.execPath, ['dist/experiments/cli.js', 'serve', file, '--policy', 'greedy-release', '--port', '0', '--epoch-ms', '300'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    for (let i = 0; i < 300 && !/on (http:\/\/\S+)/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    const url = /on (http:\/\/\S+)/.exec(out)?.[1];
    expect(url, out).toBeDefined();
    const reqs = Array.from({ length: 20 }, (_, k) => post(`${url}/v2/models/net/infer`, jsonBody(input(k))));
    // Wait until the server holds all 20 (answered or pending), then stop it.
    const held = async () => {
      const s = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
      const v = (n: string) => s.find((x) => x.name === n && x.labels.model === 'net')?.value ?? 0;
      return { total: v('nv_inference_request_success') + v('nv_inference_pending_request_count'), pending: v('nv_inference_pending_request_count') };
    };
    let h = await held();
    for (let i = 0; i < 200 && h.total < 20; i++) {
      await new Promise((r) => setTimeout(r, 10));
      h = await held();
    }
    expect(h.pending).toBeGreaterThan(0);
    child.kill('SIGTERM');
    const statuses = await Promise.all(reqs.map(async (p) => (await p).status));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await exited).toBe(0);
    expect(out).toMatch(/SIGTERM: draining/);
    // Nothing listens any more.
    await expect(fetch(`${url}/v2/health/live`)).rejects.toThrow();
  }, 30_000);
});
