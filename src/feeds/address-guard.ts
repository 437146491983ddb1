import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * The SSRF guard (DESIGN.md invariant 7). Feed and page fetches may reach only public unicast
 * addresses, unless the configuration (FETCH_ALLOW_PRIVATE: host names, addresses or CIDRs) or the
 * source itself allows more. It is applied to every hop of a redirect chain and to the addresses a
 * host name resolves to at connect time, so DNS tricks and redirects cannot get around it.
 */

/** What a fetch may reach beyond the public internet. `true` = anything (a source's allow_private). */
export type PrivatePolicy = { allowAll: true } | { allowAll: false; entries: readonly string[] };

export class BlockedAddressError extends Error {
  override name = 'BlockedAddressError';
  readonly userFacing = true;
}

export function privatePolicy(allowList: readonly string[], allowAll = false): PrivatePolicy {
  return allowAll ? { allowAll: true } : { allowAll: false, entries: allowList };
}

/** The ipaddr.js range names that are public unicast; everything else is refused by default. */
const PUBLIC_RANGES = new Set(['unicast']);

export interface AddressDecision {
  allowed: boolean;
  /** The range the address falls in (e.g. "private", "loopback", "linkLocal"). */
  range: string;
  reason?: string;
}

function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) return null;
  const parsed = ipaddr.parse(bare);
  return parsed.kind() === 'ipv6' ? (embeddedIPv4(parsed as ipaddr.IPv6) ?? parsed) : parsed;
}

/**
 * An IPv4 address written as IPv6 is judged as that IPv4 address: mapped (::ffff:a.b.c.d),
 * translated (::ffff:0:a.b.c.d) and the deprecated compatible form (::a.b.c.d, which URL parsing
 * turns `[::127.0.0.1]` into and which ipaddr.js otherwise calls public unicast).
 */
function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = ip.parts;
  const zeroTo = (n: number) => p.slice(0, n).every((x) => x === 0);
  const mapped = zeroTo(5) && p[5] === 0xffff;
  const translated = zeroTo(4) && p[4] === 0xffff && p[5] === 0;
  const compatible = zeroTo(6) && ((p[6] ?? 0) !== 0 || (p[7] ?? 0) > 1); // not :: or ::1
  if (!mapped && !translated && !compatible) return null;
  const hi = p[6] ?? 0;
  const lo = p[7] ?? 0;
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

function entryMatchesAddress(entry: string, ip: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  if (entry.includes('/')) {
    try {
      const [range, bits] = ipaddr.parseCIDR(entry);
      return ip.kind() === range.kind() && ip.match([range, bits]);
    } catch {
      return false;
    }
  }
  const other = parseAddress(entry);
  return (
    other !== null && other.kind() === ip.kind() && other.toNormalizedString() === ip.toNormalizedString()
  );
}

/** Pure decision: may a fetch connect to this IP address (reached via `hostname`)? */
export function decideAddress(address: string, policy: PrivatePolicy, hostname?: string): AddressDecision {
  const ip = parseAddress(address);
  if (!ip) return { allowed: false, range: 'invalid', reason: `"${address}" is not an IP address` };
  const range = ip.range();
  if (PUBLIC_RANGES.has(range)) return { allowed: true, range };
  if (policy.allowAll) return { allowed: true, range };
  const host = hostname
    ?.toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  const allowed = policy.entries.some((raw) => {
    const entry = raw.trim().toLowerCase();
    if (!entry) return false;
    if (host && entry === host) return true;
    return entryMatchesAddress(entry, ip);
  });
  return allowed
    ? { allowed: true, range }
    : {
        allowed: false,
        range,
        reason: `refused to fetch ${hostname && hostname !== address ? `${hostname} (${address})` : address}: ${describeRange(range)} address; allow it with FETCH_ALLOW_PRIVATE or the source's allow-private setting`,
      };
}

function describeRange(range: string): string {
  switch (range) {
    case 'private':
    case 'uniqueLocal':
      return 'a private';
    case 'loopback':
      return 'a loopback';
    case 'linkLocal':
      return 'a link-local (cloud metadata)';
    case 'carrierGradeNat':
      return 'a carrier-grade NAT (cloud metadata)';
    case 'unspecified':
      return 'an unspecified';
    default:
      return `a non-public (${range})`;
  }
}

/** Checks a URL before connecting: scheme, and the host when it is an IP literal (no DNS involved). */
export function checkUrlTarget(url: URL, policy: PrivatePolicy): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BlockedAddressError(`refused to fetch ${url.href}: only http and https URLs are fetched`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const decision = decideAddress(host, policy, host);
    if (!decision.allowed) throw new BlockedAddressError(decision.reason ?? 'address refused');
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A dns.lookup replacement for net.connect: resolves, then refuses the connection when any address
 * it would use is not allowed. Checking at connect time closes the gap a separate pre-check leaves
 * (a name that resolves to a public address first and a private one on the second lookup).
 */
export function guardedLookup(policy: PrivatePolicy) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as LookupAddress[];
      const allowed = list.filter((a) => decideAddress(a.address, policy, hostname).allowed);
      if (allowed.length === 0 || allowed.length !== list.length) {
        const refused = list.find((a) => !decideAddress(a.address, policy, hostname).allowed);
        const reason = refused
          ? decideAddress(refused.address, policy, hostname).reason
          : `no address for ${hostname}`;
        return callback(new BlockedAddressError(reason ?? 'address refused'), '', 0);
      }
      if (options.all) return callback(null, allowed);
      const first = allowed[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
}
