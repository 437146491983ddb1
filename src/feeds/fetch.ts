import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Agent, request } from 'undici';
import type { Env } from '../config/env.js';
import { BlockedAddressError, checkUrlTarget, guardedLookup, type PrivatePolicy } from './address-guard.js';

/**
 * Fetching from the untrusted web with limits (DESIGN.md invariant 7): one deadline for the whole
 * exchange, a byte limit on the decoded body, a redirect limit with every hop checked by the
 * address guard, compressed transfer, and conditional GET so an unchanged feed costs a 304.
 */

export interface FetchLimits {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  userAgent: string;
  policy: PrivatePolicy;
  accept?: string;
}

export interface Conditional {
  etag?: string | null;
  lastModified?: string | null;
}

export interface FetchResult {
  status: number;
  /** The URL after redirects. */
  url: string;
  notModified: boolean;
  headers: Record<string, string>;
  body: Buffer;
}

export type FetchErrorKind = 'timeout' | 'too-large' | 'too-many-redirects' | 'http' | 'blocked' | 'network';

export class FetchError extends Error {
  override name = 'FetchError';
  readonly userFacing = true;
  constructor(
    message: string,
    readonly kind: FetchErrorKind,
    readonly status?: number,
  ) {
    super(message);
  }
}

export const FEED_ACCEPT =
  'application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5';
export const PAGE_ACCEPT = 'text/html, application/xhtml+xml;q=0.9, */*;q=0.5';

export function userAgentFor(env: Pick<Env, 'PUBLIC_URL'>): string {
  return `Gazette/0.1 (newsletter feed reader; +${env.PUBLIC_URL})`;
}

export function limitsFromEnv(
  env: Pick<Env, 'FETCH_TIMEOUT_MS' | 'FETCH_MAX_BYTES' | 'FETCH_MAX_REDIRECTS' | 'PUBLIC_URL'>,
  policy: PrivatePolicy,
  accept = FEED_ACCEPT,
): FetchLimits {
  return {
    timeoutMs: env.FETCH_TIMEOUT_MS,
    maxBytes: env.FETCH_MAX_BYTES,
    maxRedirects: env.FETCH_MAX_REDIRECTS,
    userAgent: userAgentFor(env),
    policy,
    accept,
  };
}

// One connection pool per address policy, so keep-alive connections are reused across polls
// while two policies never share a connection that the other would have refused.
const agents = new Map<string, Agent>();
function agentFor(policy: PrivatePolicy): Agent {
  const key = JSON.stringify(policy);
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({
      connect: { lookup: guardedLookup(policy) as never },
      keepAliveTimeout: 10_000,
    });
    agents.set(key, agent);
  }
  return agent;
}

/** Closes the pooled connections (for tests and benchmarks that want a clean exit). */
export async function closeFetchAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close().catch(() => {})));
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function findBlocked(err: unknown): BlockedAddressError | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    if (e instanceof BlockedAddressError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

export async function fetchWithLimits(
  url: string,
  limits: FetchLimits,
  conditional: Conditional = {},
): Promise<FetchResult> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  const dispatcher = agentFor(limits.policy);
  let current: URL;
  try {
    current = new URL(url);
  } catch {
    throw new FetchError(`not a valid URL: ${url}`, 'network');
  }
  try {
    for (let hop = 0; ; hop++) {
      checkUrlTarget(current, limits.policy);
      const headers: Record<string, string> = {
        'user-agent': limits.userAgent,
        accept: limits.accept ?? FEED_ACCEPT,
        'accept-encoding': 'gzip, deflate, br',
      };
      if (conditional.etag) headers['if-none-match'] = conditional.etag;
      if (conditional.lastModified) headers['if-modified-since'] = conditional.lastModified;
      const res = await request(current, { method: 'GET', headers, dispatcher, signal });
      const flat = flattenHeaders(res.headers);
      if (REDIRECTS.has(res.statusCode) && flat.location) {
        await res.body.dump().catch(() => {});
        if (hop >= limits.maxRedirects) {
          throw new FetchError(
            `more than ${limits.maxRedirects} redirects from ${url}`,
            'too-many-redirects',
          );
        }
        current = new URL(flat.location, current);
        continue;
      }
      if (res.statusCode === 304) {
        await res.body.dump().catch(() => {});
        return { status: 304, url: current.href, notModified: true, headers: flat, body: Buffer.alloc(0) };
      }
      if (res.statusCode < 200 || res.statusCode >= 300) {
        await res.body.dump().catch(() => {});
        throw new FetchError(`HTTP ${res.statusCode} from ${current.href}`, 'http', res.statusCode);
      }
      const declared = Number(flat['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBytes && !flat['content-encoding']) {
        res.body.destroy();
        throw new FetchError(
          `response from ${current.href} is ${declared} bytes, over the ${limits.maxBytes}-byte limit`,
          'too-large',
          res.statusCode,
        );
      }
      const body = await readLimited(res.body, flat['content-encoding'], limits.maxBytes, current.href);
      return { status: res.statusCode, url: current.href, notModified: false, headers: flat, body };
    }
  } catch (err) {
    if (err instanceof FetchError) throw err;
    const blocked = findBlocked(err);
    if (blocked) throw new FetchError(blocked.message, 'blocked');
    if (signal.aborted) {
      throw new FetchError(
        `no complete response from ${current.href} within ${limits.timeoutMs} ms`,
        'timeout',
      );
    }
    throw new FetchError(`could not fetch ${current.href}: ${describeNetworkError(err)}`, 'network');
  }
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function decoderFor(encoding: string | undefined): NodeJS.ReadWriteStream | null {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return null;
  }
}

/** Reads the body, decompressing, and stops as soon as the decoded size passes the limit. */
async function readLimited(
  body: NodeJS.ReadableStream,
  encoding: string | undefined,
  maxBytes: number,
  where: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      total += chunk.length;
      if (total > maxBytes) {
        done(new FetchError(`response from ${where} is over the ${maxBytes}-byte limit`, 'too-large'));
        return;
      }
      chunks.push(chunk);
      done();
    },
  });
  const decoder = decoderFor(encoding);
  if (decoder) await pipeline(body, decoder, sink);
  else await pipeline(body, sink);
  return Buffer.concat(chunks, total);
}
