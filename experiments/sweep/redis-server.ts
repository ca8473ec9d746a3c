/**
 * A private Redis for what needs one on this machine (tests, `bench sweep`, `reproduce scale-out`):
 * TOPSCHED_REDIS_URL when set (CI starts one), else Debian's redis-server started here on a free
 * loopback port with no persistence, stopped by `stop()`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface LocalRedis {
  url: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function redisServerPath(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** Why no Redis can be had here, or null when one can. */
export function redisUnavailable(): string | null {
  if (process.env.TOPSCHED_REDIS_URL) return null;
  return redisServerPath() ? null : 'redis-server is not installed (apt-get install redis-server) and TOPSCHED_REDIS_URL is not set';
}

export async function startRedis(): Promise<LocalRedis> {
  if (process.env.TOPSCHED_REDIS_URL) return { url: process.env.TOPSCHED_REDIS_URL, stop: async () => {} };
  const bin = redisServerPath();
  if (!bin) throw new Error(redisUnavailable() as string);
  const port = await freePort();
  const child: ChildProcess = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const { Redis } = await import('ioredis');
  for (let i = 0; i < 100; i++) {
    const c = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 1 });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return {
        url,
        stop: async () => {
          child.kill('SIGTERM');
          await new Promise((r) => child.once('exit', r));
        },
      };
    } catch {
      c.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer`);
}
