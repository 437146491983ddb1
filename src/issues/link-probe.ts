import type { Env } from '../config/env.js';
import { privatePolicy } from '../feeds/address-guard.js';
import { FetchError, fetchWithLimits, limitsFromEnv, PAGE_ACCEPT } from '../feeds/fetch.js';
import type { LinkProbe } from './check.js';

/**
 * A link check for the pre-send checklist through the feeds stage's guarded fetch (time, size and
 * redirect limits; private addresses refused unless allowed). A page too large to read whole still
 * loaded, so it counts as reachable.
 */
export function createLinkProbe(
  env: Pick<
    Env,
    'FETCH_TIMEOUT_MS' | 'FETCH_MAX_BYTES' | 'FETCH_MAX_REDIRECTS' | 'PUBLIC_URL' | 'FETCH_ALLOW_PRIVATE'
  >,
): LinkProbe {
  const limits = {
    ...limitsFromEnv(env, privatePolicy(env.FETCH_ALLOW_PRIVATE), PAGE_ACCEPT),
    // A check needs the status, not the page.
    maxBytes: Math.min(env.FETCH_MAX_BYTES, 512 * 1024),
  };
  return async (url) => {
    try {
      const res = await fetchWithLimits(url, limits);
      return { status: res.status };
    } catch (err) {
      if (err instanceof FetchError && err.kind === 'too-large') return { status: 200 };
      if (err instanceof FetchError && err.status !== undefined) return { status: err.status };
      throw err;
    }
  };
}
