import { describe, expect, it } from 'vitest';
import { QueueConnectionError } from '../errors.js';
import { parseQueueUrl, redisOptions } from './url.js';

describe('--queue URLs', () => {
  it('reads host, port, db, password and TLS, and prints only the redacted form', () => {
    const u = parseQueueUrl('rediss://:s3cret-pass@redis.lab.example:6380/2');
    expect(u).toMatchObject({ host: 'redis.lab.example', port: 6380, db: 2, tls: true, password: 's3cret-pass' });
    expect(u.redacted).toBe('rediss://***@redis.lab.example:6380/2');
    expect(redisOptions(u)).toMatchObject({
      host: 'redis.lab.example',
      port: 6380,
      db: 2,
      password: 's3cret-pass',
      tls: { servername: 'redis.lab.example' },
    });
    const plain = parseQueueUrl('redis://127.0.0.1');
    expect(plain.redacted).toBe('redis://127.0.0.1:6379/0');
    expect(redisOptions(plain)).not.toHaveProperty('tls');
    expect(redisOptions(plain)).not.toHaveProperty('password');
    expect(parseQueueUrl('redis://alice:pw%40x@h:1/0')).toMatchObject({
      username: 'alice',
      password: 'pw@x',
      redacted: 'redis://***@h:1/0',
    });
  });

  it('scrubs the password (as written and decoded) and the raw URL out of any text', () => {
    const raw = 'redis://:p%40ss-word@db.example:6379/1';
    const u = parseQueueUrl(raw);
    expect(u.scrub(`cannot connect to ${raw}: p@ss-word rejected (p%40ss-word)`)).toBe(
      'cannot connect to redis://:***@db.example:6379/1: *** rejected (***)',
    );
    expect(parseQueueUrl('redis://h:1').scrub('at redis://h:1/0')).toBe('at redis://h:1/0');
  });

  it('refuses anything else with a UsageError that does not echo the value', () => {
    for (const bad of ['not a url', 'http://:secretish@host', 'redis://:secretish@host/abc', 'redis://:secretish@host?tls=1', 'redis://']) {
      let error: unknown;
      try {
        parseQueueUrl(bad);
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(QueueConnectionError);
      expect((error as Error).message).not.toContain('secretish');
    }
  });
});
