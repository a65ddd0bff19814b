import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * The SSRF guard of clients' webhook URLs: a client names a URL, the gateway POSTs to it, so the
 * URL must not reach the gateway's own network. Only http(s); every address the host resolves to
 * must be public (loopback, private, link-local, CGNAT, multicast, reserved and cloud-metadata
 * addresses are refused), and the connection is then made to the address that was checked
 * (`pinnedLookup`), so a second DNS answer cannot swap it (DNS rebinding).
 */

/** Why an address is refused; `allowPrivate` lifts only `loopback` and `private`. */
export type ForbiddenKind =
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'reserved';

const LIFTED_BY_ALLOW_PRIVATE: ReadonlySet<ForbiddenKind> = new Set(['loopback', 'private']);

type Range = readonly [kind: ForbiddenKind, network: string, prefix: number];

/** IPv4 ranges a webhook may not reach, most specific first (the first match names the kind). */
const IPV4_RANGES: readonly Range[] = [
  ['metadata', '169.254.169.254', 32],
  ['metadata', '100.100.100.200', 32], // Alibaba Cloud's metadata service, inside CGNAT
  ['unspecified', '0.0.0.0', 8],
  ['loopback', '127.0.0.0', 8],
  ['private', '10.0.0.0', 8],
  ['private', '172.16.0.0', 12],
  ['private', '192.168.0.0', 16],
  ['private', '100.64.0.0', 10], // CGNAT: a provider's internal network
  ['link-local', '169.254.0.0', 16],
  ['reserved', '192.0.0.0', 24], // IETF protocol assignments
  ['reserved', '192.0.2.0', 24], // documentation (TEST-NET-1)
  ['reserved', '192.88.99.0', 24], // 6to4 relay anycast
  ['reserved', '198.18.0.0', 15], // benchmarking
  ['reserved', '198.51.100.0', 24], // documentation (TEST-NET-2)
  ['reserved', '203.0.113.0', 24], // documentation (TEST-NET-3)
  ['multicast', '224.0.0.0', 4],
  ['reserved', '240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
];

/** IPv6 ranges. IPv4 inside IPv6 (mapped, NAT64, 6to4) is checked as the IPv4 address it holds. */
const IPV6_RANGES: readonly Range[] = [
  ['metadata', 'fd00:ec2::254', 128], // AWS's metadata service over IPv6
  ['unspecified', '::', 128],
  ['loopback', '::1', 128],
  ['reserved', '::', 96], // IPv4-compatible (deprecated)
  ['reserved', '100::', 64], // discard-only
  ['reserved', '2001:db8::', 32], // documentation
  ['private', 'fc00::', 7], // unique local
  ['link-local', 'fe80::', 10],
  ['reserved', 'fec0::', 10], // site-local (deprecated)
  ['multicast', 'ff00::', 8],
];

/** Host names of cloud metadata services, refused whatever they resolve to. */
const METADATA_HOSTS: ReadonlySet<string> = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
]);

function blockListOf(ranges: readonly Range[], family: 'ipv4' | 'ipv6') {
  return ranges.map(([kind, network, prefix]) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, family);
    return [kind, list] as const;
  });
}
const V4 = blockListOf(IPV4_RANGES, 'ipv4');
const V6 = blockListOf(IPV6_RANGES, 'ipv6');

/** The IPv4 address an IPv6 address carries (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`), if any. */
function embeddedIpv4(address: string): string | undefined {
  const words = ipv6Words(address);
  if (!words) return undefined;
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  const zeros = (from: number, to: number) => words.slice(from, to).every((word) => word === 0);
  // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (translated)
  if (zeros(0, 5) && words[5] === 0xffff) return v4(words[6] as number, words[7] as number);
  if (zeros(0, 4) && words[4] === 0xffff && words[5] === 0)
    return v4(words[6] as number, words[7] as number);
  // 64:ff9b::a.b.c.d (NAT64 well-known prefix) and 64:ff9b:1::/48 (local-use NAT64)
  if (words[0] === 0x64 && words[1] === 0xff9b && (zeros(2, 6) || words[2] === 1))
    return v4(words[6] as number, words[7] as number);
  // 2002:AABB:CCDD::/48 (6to4)
  if (words[0] === 0x2002) return v4(words[1] as number, words[2] as number);
  return undefined;
}

/** The eight 16-bit words of an IPv6 address, or undefined when it is not one. */
function ipv6Words(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address.split('%')[0] as string;
  // A dotted IPv4 tail becomes two words.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a, b, c, d] = dotted[1].split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string | undefined) =>
    part ? part.split(':').map((word) => Number.parseInt(word, 16)) : [];
  const first = parse(head);
  const last = parse(tail);
  const fill = tail === undefined ? [] : new Array(8 - first.length - last.length).fill(0);
  const words = [...first, ...fill, ...last];
  return words.length === 8 ? words : undefined;
}

/**
 * Why a webhook may not connect to `address` (an IP literal), or `undefined` when it may.
 * `allowPrivate` (WEBHOOK_ALLOW_PRIVATE) lets loopback and private addresses through; never
 * metadata, link-local, multicast or reserved ones. Anything that is not an IP is refused.
 */
export function forbiddenAddress(
  address: string,
  options: { readonly allowPrivate?: boolean } = {},
): ForbiddenKind | undefined {
  const family = isIP(address);
  let kind: ForbiddenKind | undefined;
  if (family === 4) {
    kind = V4.find(([, list]) => list.check(address, 'ipv4'))?.[0];
  } else if (family === 6) {
    const inner = embeddedIpv4(address);
    if (inner !== undefined) return forbiddenAddress(inner, options);
    kind = V6.find(([, list]) => list.check(address, 'ipv6'))?.[0];
  } else {
    return 'reserved';
  }
  if (kind !== undefined && options.allowPrivate && LIFTED_BY_ALLOW_PRIVATE.has(kind)) {
    return undefined;
  }
  return kind;
}

/** A webhook URL refused, with the reason a client is shown. */
export class WebhookUrlError extends Error {
  override name = 'WebhookUrlError' as const;
  readonly rule: 'format' | 'scheme' | 'forbidden_address' | 'unresolvable';

  constructor(rule: WebhookUrlError['rule'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.rule = rule;
  }
}

export const isWebhookUrlError = (value: unknown): value is WebhookUrlError =>
  value instanceof Error && value.name === 'WebhookUrlError';

/** The longest webhook URL accepted (the upstream contract's bound). */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** Checks a webhook URL's syntax and scheme (no network): the URL, or a `WebhookUrlError`. */
export function parseWebhookUrl(raw: string): URL {
  if (raw.length === 0 || raw.length > MAX_WEBHOOK_URL_LENGTH) {
    throw new WebhookUrlError(
      'format',
      `webhook.url must be 1 to ${MAX_WEBHOOK_URL_LENGTH} characters`,
    );
  }
  if (!URL.canParse(raw)) throw new WebhookUrlError('format', 'webhook.url is not a URL');
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookUrlError(
      'scheme',
      `webhook.url must be http or https, not ${url.protocol.replace(/:$/, '')}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new WebhookUrlError('format', 'webhook.url must not carry a user name or password');
  }
  if (url.hostname === '') throw new WebhookUrlError('format', 'webhook.url has no host');
  return url;
}

/** One resolved address. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to every address (injectable for tests). */
export type ResolveHost = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** The longest a host name is waited for (the operating system's resolver may hang longer). */
const RESOLVE_TIMEOUT_MS = 5000;

export const resolveWithDns: ResolveHost = async (hostname) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no DNS answer within ${RESOLVE_TIMEOUT_MS / 1000} s`)),
      RESOLVE_TIMEOUT_MS,
    );
  });
  try {
    const entries = await Promise.race([
      dnsLookup(hostname, { all: true, verbatim: true }),
      timeout,
    ]);
    return entries.map((entry) => ({
      address: entry.address,
      family: entry.family === 6 ? 6 : 4,
    }));
  } finally {
    clearTimeout(timer);
  }
};

export interface GuardOptions {
  readonly allowPrivate: boolean;
  /** @default DNS through the operating system (`dns.lookup`, all addresses) */
  readonly resolve?: ResolveHost;
}

/** A URL's host without IPv6 brackets, lower case. */
const bareHost = (url: URL) => url.hostname.replace(/^\[|\]$/g, '').toLowerCase();

/**
 * Resolves the URL's host once and checks every address: the address to connect to, or a
 * `WebhookUrlError` (`forbidden_address`, or `unresolvable` when DNS has no answer).
 */
export async function checkWebhookTarget(
  url: URL,
  options: GuardOptions,
): Promise<ResolvedAddress> {
  const host = bareHost(url);
  if (METADATA_HOSTS.has(host) || METADATA_HOSTS.has(host.replace(/\.$/, ''))) {
    throw new WebhookUrlError(
      'forbidden_address',
      `webhook.url points at a cloud metadata service (${host})`,
    );
  }
  let addresses: readonly ResolvedAddress[];
  const family = isIP(host);
  if (family !== 0) {
    addresses = [{ address: host, family: family === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await (options.resolve ?? resolveWithDns)(host);
    } catch (error) {
      throw new WebhookUrlError('unresolvable', `webhook.url's host ${host} does not resolve`, {
        cause: error,
      });
    }
    if (addresses.length === 0) {
      throw new WebhookUrlError('unresolvable', `webhook.url's host ${host} does not resolve`);
    }
  }
  for (const entry of addresses) {
    const kind = forbiddenAddress(entry.address, options);
    if (kind !== undefined) {
      const shown = family === 0 ? `${host} resolves to ${entry.address}` : host;
      throw new WebhookUrlError(
        'forbidden_address',
        `webhook.url may not point at a ${kind} address (${shown})${
          kind === 'loopback' || kind === 'private'
            ? '; WEBHOOK_ALLOW_PRIVATE=1 allows it for local development'
            : ''
        }`,
      );
    }
  }
  return addresses[0] as ResolvedAddress;
}

/**
 * A `lookup` for `net.connect`/`tls.connect` (undici's `connect` option) that answers only the
 * address already checked: the connection goes there whatever DNS says now, while the URL's
 * host stays the Host header and the TLS server name.
 */
export function pinnedLookup(target: ResolvedAddress) {
  return (
    _hostname: string,
    options: { all?: boolean } | number | undefined,
    callback: (...args: unknown[]) => void,
  ) => {
    const all = typeof options === 'object' && options?.all === true;
    if (all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
}
