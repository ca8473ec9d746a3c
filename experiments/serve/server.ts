/**
 * `topsched serve`: the KServe v2 / Triton HTTP protocol (fastify) in front of the serving engine,
 * with Prometheus metrics (prom-client) under Triton's names.
 *
 *   GET  /v2/health/live, /v2/health/ready      200, or 400 when not ready (KServe: 4xx = false)
 *   GET  /v2                                    server metadata
 *   GET  /v2/models/{m}[/versions/1]            model metadata (inputs, outputs)
 *   GET  /v2/models/{m}[/versions/1]/ready
 *   POST /v2/models/{m}[/versions/1]/infer      JSON tensors or the binary tensor data extension
 *   GET  /metrics                               Prometheus text
 *
 * Errors are `{"error": message}`: 400 for a bad request (malformed JSON, wrong shape or datatype,
 * a body over the limit), 404 for an unknown model or version, 503 when the model's queue is full
 * or the server is draining. `close()` (on SIGTERM in the CLI) stops accepting, answers every
 * request already accepted, then stops the engine.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { OverloadedError, type ServingEngine } from './engine.js';
import { encodeInferResponse, ProtocolError, parseInferRequest, tensorMetadata } from './kserve.js';
import { ServeMetrics } from './metrics.js';

export interface ServerOptions {
  engine: ServingEngine;
  /** Largest request body accepted, bytes. Default: 16 MiB or twice the largest model input, whichever is more. */
  bodyLimit?: number;
  version?: string;
}

export interface Server {
  app: FastifyInstance;
  metrics: ServeMetrics;
  /** Listens on host:port (port 0: any free one); resolves with the address. */
  listen(port: number, host?: string): Promise<string>;
  /** Stops accepting, answers what was accepted, stops the engine. */
  close(): Promise<void>;
}

export function createServer(o: ServerOptions): Server {
  const { engine } = o;
  const names = engine.env.models.map((m) => m.name);
  const metrics = new ServeMetrics(names);
  const inputBytes = Math.max(...engine.graphs.flatMap((g) => g.inputs.map((v) => v.shape.reduce((a, b) => a * b, 1) * 8)));
  const bodyLimit = o.bodyLimit ?? Math.max(16 << 20, 2 * inputBytes * 4);
  const app = Fastify({ bodyLimit, logger: false, return503OnClosing: true });
  // Bodies are read as bytes; kserve.ts parses them (JSON alone or JSON + binary tensors) with its own errors.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(400).send({ error: `request body over the limit of ${bodyLimit} bytes` });
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? 400 : 500;
    return reply.code(status).send({ error: err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url}` }));

  const modelIndex = (req: FastifyRequest): number => {
    const p = req.params as { model: string; version?: string };
    const m = names.indexOf(p.model);
    if (m < 0) throw new ProtocolError(`unknown model '${p.model}' (served: ${names.join(', ')})`, 404);
    if (p.version !== undefined && p.version !== '1') throw new ProtocolError(`model '${p.model}' has no version '${p.version}' (versions: 1)`, 404);
    return m;
  };
  const fail = (reply: FastifyReply, e: unknown) => {
    if (e instanceof ProtocolError) return reply.code(e.status).send({ error: e.message });
    if (e instanceof OverloadedError) return reply.code(503).send({ error: e.message });
    return reply.code(500).send({ error: (e as Error).message });
  };

  app.get('/v2/health/live', (_req, reply) => reply.code(200).send());
  app.get('/v2/health/ready', (_req, reply) => reply.code(engine.isReady() ? 200 : 400).send());
  app.get('/v2', () => ({ name: 'topsched', version: o.version ?? '0', extensions: ['binary_tensor_data'] }));
  for (const base of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    app.get(base, (req, reply) => {
      try {
        const m = modelIndex(req);
        const g = engine.graphs[m];
        return reply.send({
          name: names[m],
          versions: ['1'],
          platform: 'topsched_native',
          inputs: g.inputs.map(tensorMetadata),
          outputs: g.outputs.map(tensorMetadata),
        });
      } catch (e) {
        return fail(reply, e);
      }
    });
    app.get(`${base}/ready`, (req, reply) => {
      try {
        modelIndex(req);
        return reply.code(engine.isReady() ? 200 : 400).send();
      } catch (e) {
        return fail(reply, e);
      }
    });
    app.post(`${base}/infer`, async (req, reply) => {
      const t0 = performance.now();
      let m = -1;
      try {
        m = modelIndex(req);
        const g = engine.graphs[m];
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const hl = req.headers['inference-header-content-length'];
        const parsed = parseInferRequest(names[m], body, Array.isArray(hl) ? hl[0] : hl, g.inputs, g.outputs);
        if (!engine.isReady()) throw new OverloadedError(engine.error ? `engine failed: ${engine.error.message}` : 'server is not ready or is draining');
        const labels = { model: names[m], version: '1' };
        metrics.pending.inc(labels);
        let r: Awaited<ReturnType<ServingEngine['infer']>>;
        try {
          r = await engine.infer(m, parsed.inputs);
        } finally {
          metrics.pending.dec(labels);
        }
        const enc = encodeInferResponse(names[m], parsed, g.outputs, r.outputs);
        metrics.success.inc(labels);
        metrics.count.inc(labels);
        metrics.queueUs.inc(labels, r.queueUs);
        metrics.computeUs.inc(labels, r.computeUs);
        metrics.requestUs.inc(labels, (performance.now() - t0) * 1000);
        if (enc.headerLength !== undefined)
          return reply.header('Inference-Header-Content-Length', String(enc.headerLength)).type('application/octet-stream').send(enc.body);
        return reply.type('application/json').send(enc.body);
      } catch (e) {
        if (m >= 0) metrics.failure.inc({ model: names[m], version: '1' });
        return fail(reply, e);
      }
    });
  }
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  // Executions are counted per launch, whatever its size (Triton's exec_count).
  engine.onLaunch = (model) => metrics.execCount.inc({ model: names[model], version: '1' });

  return {
    app,
    metrics,
    async listen(port: number, host = '127.0.0.1') {
      return app.listen({ port, host });
    },
    async close() {
      // Stop the listener first (new connections refused, requests on open ones answered 503), then drain.
      const closed = app.close();
      await engine.drain();
      // Keep-alive connections that were busy at close turn idle only now: close them as they do,
      // rather than waiting out the keep-alive timeout.
      let done = false;
      void closed.finally(() => (done = true));
      while (!done) {
        app.server.closeIdleConnections();
        await Promise.race([closed, new Promise((r) => setTimeout(r, 20))]);
      }
      await closed;
    },
  };
}
