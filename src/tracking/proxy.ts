import ipaddr from 'ipaddr.js';

/**
 * Opens fetched by a mail provider's image proxy rather than seen by a person. They are recorded
 * and flagged (events.proxied), never dropped, so editors can choose which figure to read.
 *
 * - Apple Mail Privacy Protection prefetches every image through Apple's relays. The relays send a
 *   bare `Mozilla/5.0` user agent and come from Apple's own network, 17.0.0.0/8 (AS714), which is
 *   where Apple's published egress ranges for MPP sit.
 * - Gmail fetches images through `GoogleImageProxy` (…via ggpht.com), which also hides the reader.
 * - Yahoo Mail uses `YahooMailProxy`.
 * The user agent alone is enough for Google and Yahoo; Apple needs the address too, because many
 * clients send generic browser agents.
 */
export const PROXY_USER_AGENTS: ReadonlyArray<{ name: string; pattern: RegExp }> = [
  { name: 'google-image-proxy', pattern: /GoogleImageProxy/i },
  { name: 'yahoo-mail-proxy', pattern: /YahooMailProxy/i },
];

export const APPLE_PROXY_RANGES: ReadonlyArray<string> = ['17.0.0.0/8'];

const appleRanges = APPLE_PROXY_RANGES.map((r) => ipaddr.parseCIDR(r));

function inRanges(ip: string, ranges: ReturnType<typeof ipaddr.parseCIDR>[]): boolean {
  try {
    let addr = ipaddr.parse(ip);
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      addr = (addr as ipaddr.IPv6).toIPv4Address();
    }
    return ranges.some(([net, bits]) => addr.kind() === net.kind() && addr.match([net, bits]));
  } catch {
    return false;
  }
}

/** The proxy's name when an open came through a privacy proxy, else undefined. */
export function detectMailProxy(userAgent: string | undefined, ip: string | undefined): string | undefined {
  const ua = (userAgent ?? '').trim();
  for (const p of PROXY_USER_AGENTS) if (p.pattern.test(ua)) return p.name;
  if (ip && inRanges(ip, appleRanges) && (ua === '' || /^Mozilla\/5\.0$/.test(ua))) return 'apple-mpp';
  return undefined;
}
