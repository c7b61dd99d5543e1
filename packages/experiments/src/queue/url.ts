/**
 * The `--queue` URL: `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS. It may carry a
 * password, so it is only ever printed, logged or stored in its redacted form (`redis://***@host:port/db`),
 * and every message that leaves a queue command passes through {@link QueueUrl.scrub}.
 */
import { isIP } from 'node:net';
import type { RedisOptions } from 'bullmq';
import { QueueConnectionError } from '../errors.js';

/** Environment variable the queue commands read when `--queue` is given without a URL (keeps a password out of `ps`). */
export const QUEUE_URL_ENV = 'SAMRANK_QUEUE_URL';

/** A parsed `--queue` URL. */
export interface QueueUrl {
  /** The URL with any user name and password replaced by `***`: the only form that is printed or stored. */
  readonly redacted: string;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
  /** `text` with every occurrence of the URL's secrets replaced (error messages of Redis clients, job errors). */
  scrub(text: string): string;
}

const USAGE = 'expected redis://[:password@]host[:port][/db] or rediss://… (TLS)';

/**
 * Parses a `--queue` value. Throws {@link QueueConnectionError} (exit 2) for anything else, without echoing the
 * value (it may hold a password).
 */
export function parseQueueUrl(raw: string): QueueUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new QueueConnectionError(`--queue: not a URL; ${USAGE}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new QueueConnectionError(`--queue: unsupported scheme '${url.protocol.replace(/:$/, '')}'; ${USAGE}`);
  }
  const tls = url.protocol === 'rediss:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new QueueConnectionError(`--queue: no host; ${USAGE}`);
  const port = url.port ? Number(url.port) : 6379;
  const path = url.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d+$/.test(path))
    throw new QueueConnectionError(`--queue: the path must be a database number (/0, /1, …); ${USAGE}`);
  const db = path === '' ? 0 : Number(path);
  if (url.search || url.hash) throw new QueueConnectionError(`--queue: query parameters are not supported; ${USAGE}`);
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const redacted = `${url.protocol}//${username || password ? '***@' : ''}${hostPart}:${port}/${db}`;
  // The password as written in the URL and decoded; without it nothing in the URL is secret.
  const secrets = [url.password, password]
    .filter((s): s is string => typeof s === 'string' && s.length >= 3)
    .sort((a, b) => b.length - a.length);
  return {
    redacted,
    host,
    port,
    db,
    tls,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    scrub(text: string) {
      let out = text;
      for (const s of secrets) out = out.split(s).join('***');
      return out;
    },
  };
}

/**
 * ioredis options for `url`. `fast`: one connection attempt within `connectTimeout`, no offline queue and no
 * reconnection (the up-front reachability check); otherwise reconnect with a capped backoff, as a long-running
 * worker or a waiting submitter should when Redis restarts.
 */
export function redisOptions(url: QueueUrl, mode: { fast?: boolean; connectTimeoutMs?: number } = {}): RedisOptions {
  return {
    host: url.host,
    port: url.port,
    db: url.db,
    ...(url.username ? { username: url.username } : {}),
    ...(url.password ? { password: url.password } : {}),
    // SNI takes a host name, never an address.
    ...(url.tls ? { tls: isIP(url.host) ? {} : { servername: url.host } } : {}),
    // RESP2 works with every Redis BullMQ supports (≥ 5), RESP3 needs 6.
    protocol: 2,
    connectTimeout: mode.connectTimeoutMs ?? 5000,
    ...(mode.fast
      ? { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null }
      : { retryStrategy: (times: number) => Math.min(250 * 2 ** Math.min(times, 5), 5000) }),
  };
}
