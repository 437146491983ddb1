import type { Env } from '../config/env.js';
import { privatePolicy } from '../feeds/address-guard.js';
import { FetchError, fetchWithLimits, limitsFromEnv, PAGE_ACCEPT } from '../feeds/fetch.js';

/**
 * The checklist's "source links load" probe: the feed stage's fetcher, so the same time, size,
 * redirect and private-address limits apply to every URL an editor pastes.
 */
export function linkProbe(env: Env) {
  const limits = {
    ...limitsFromEnv(env, privatePolicy(env.FETCH_ALLOW_PRIVATE), PAGE_ACCEPT),
    maxBytes: 256 * 1024,
    timeoutMs: Math.min(env.FETCH_TIMEOUT_MS, 10_000),
  };
  return async (url: string): Promise<{ status: number }> => {
    try {
      const res = await fetchWithLimits(url, limits);
      return { status: res.status };
    } catch (err) {
      // A page too large to read in full still loaded.
      if (err instanceof FetchError && err.kind === 'too-large') return { status: 200 };
      if (err instanceof FetchError && err.status) return { status: err.status };
      throw err;
    }
  };
}
