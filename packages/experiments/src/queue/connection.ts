/**
 * Connections to the queue's Redis: a fast reachability check before anything is enqueued or waited for (one
 * attempt, a short timeout, one line on failure), and the plain client the queue commands use for the sweep
 * records beside BullMQ's own keys.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { QueueConnectionError } from '../errors.js';
import { type QueueUrl, redisOptions } from './url.js';

/** How long the up-front check waits for Redis. */
const PROBE_TIMEOUT_MS = 3000;

/** One line saying why Redis at `url` cannot be used, from a client error. */
function explain(url: QueueUrl, error: unknown): string {
  const message = url.scrub(String((error as Error)?.message ?? error));
  const code = (error as NodeJS.ErrnoException)?.code;
  const where = `Redis at ${url.redacted}`;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(message))
    return `${where} refused the password (check the user and password in --queue)`;
  if (/NOAUTH|Authentication required/i.test(message)) return `${where} needs a password: --queue redis://:PASSWORD@host:port`;
  if (/without any password configured/i.test(message)) return `${where} has no password set, but --queue gives one`;
  if (code === 'ECONNREFUSED') return `cannot reach ${where}: connection refused (is redis-server running there?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot reach ${where}: unknown host`;
  if (code === 'ETIMEDOUT' || /timeout/i.test(message))
    return `cannot reach ${where}: no answer within ${PROBE_TIMEOUT_MS / 1000} s${url.tls ? ' (does the server speak TLS?)' : ''}`;
  return `cannot use ${where}: ${message.split('\n')[0]}`;
}

/**
 * Connects to `url` once and runs PING: resolves when Redis answers, else throws {@link QueueConnectionError}
 * with one line (exit 2) within a few seconds — unreachable, wrong or missing password, TLS mismatch.
 */
export async function checkRedis(url: QueueUrl): Promise<void> {
  const client = new Redis(redisOptions(url, { fast: true, connectTimeoutMs: PROBE_TIMEOUT_MS }) as RedisOptions);
  // ioredis reports the cause (ECONNREFUSED, WRONGPASS) as an 'error' event and rejects connect() with a
  // generic "Connection is closed"; the event's error is the one worth explaining.
  let cause: unknown;
  client.on('error', (error) => {
    cause ??= error;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new QueueConnectionError(explain(url, cause ?? error));
  } finally {
    client.disconnect();
  }
}

/** A plain client for the sweep records (reconnects with backoff; close with `quit()`). */
export async function openRedis(url: QueueUrl): Promise<Redis> {
  const client = new Redis(redisOptions(url, { connectTimeoutMs: PROBE_TIMEOUT_MS }) as RedisOptions);
  client.on('error', () => {});
  return client;
}
