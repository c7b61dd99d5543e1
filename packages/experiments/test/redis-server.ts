/**
 * Test helper (not exported): a real redis-server of the test's own on 127.0.0.1 and a free port, without
 * persistence, stopped by the test. The queue tests skip with a message when redis-server is not installed
 * (CI installs Debian's: .ci/run).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** Whether `openssl` is here to make the TLS test's certificates. */
export const HAS_OPENSSL = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

/**
 * A CA and a server certificate for 127.0.0.1 in `dir` (ca.pem, server.pem, server.key): a client trusts the
 * server with NODE_EXTRA_CA_CERTS=<dir>/ca.pem.
 */
export function makeTlsFiles(dir: string): { ca: string; cert: string; key: string } {
  const run = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=samrank test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

/** Whether `redis-server` can be started here. */
export const HAS_REDIS = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
/** Why the queue tests were skipped. */
export const NO_REDIS_MESSAGE =
  'redis-server is not installed: the job-queue tests are skipped (apt-get install redis-server; .ci/run installs it)';

/** A free TCP port on 127.0.0.1 (bound and released; redis-server takes it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A running test Redis. */
export interface TestRedis {
  port: number;
  /** redis://[:password@]127.0.0.1:<port>/0 */
  url: string;
  /** A client (authenticated), for checks and FLUSHALL. */
  client(): Redis;
  stop(): Promise<void>;
}

/**
 * Starts redis-server on a free port (with `requirepass` when a password is given; TLS only, `rediss://`, with
 * `tls`) and waits until it answers.
 */
export async function startRedis(options: { password?: string; tls?: { ca: string; cert: string; key: string } } = {}): Promise<TestRedis> {
  const tls = options.tls;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const listen = tls
      ? [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          tls.cert,
          '--tls-key-file',
          tls.key,
          '--tls-ca-cert-file',
          tls.ca,
          '--tls-auth-clients',
          'no',
        ]
      : ['--port', String(port)];
    const args = [
      ...listen,
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      ...(options.password ? ['--requirepass', options.password] : []),
    ];
    const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const clientTls = tls ? { tls: { ca: readFileSync(tls.ca) } } : {};
    const ready = await waitReady(port, { ...(options.password ? { password: options.password } : {}), ...clientTls }, exited);
    if (!ready) {
      if (attempt < 3) continue; // the port was taken in between: another one
      throw new Error(`redis-server did not start: ${out.slice(-500)}`);
    }
    const clients: Redis[] = [];
    // A test process that dies without stop() must not leave its server behind.
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    return {
      port,
      url: `${tls ? 'rediss' : 'redis'}://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}/0`,
      client() {
        const c = new Redis({
          host: '127.0.0.1',
          port,
          ...(options.password ? { password: options.password } : {}),
          ...clientTls,
          protocol: 2,
        });
        clients.push(c);
        return c;
      },
      async stop() {
        process.off('exit', reap);
        for (const c of clients) c.disconnect();
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await exited;
        }
      },
    };
  }
}

async function waitReady(
  port: number,
  auth: { password?: string; tls?: { ca: Buffer } },
  exited: Promise<number | null>,
): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const t0 = Date.now();
  while (Date.now() - t0 < 10_000 && !gone) {
    const c = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      ...auth,
      protocol: 2,
    });
    c.on('error', () => {});
    try {
      await c.connect();
      if ((await c.ping()) === 'PONG') return true;
    } catch {
      // not up yet
    } finally {
      c.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
