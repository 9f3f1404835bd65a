import { isIP } from "node:net";

/**
 * Who is on the other end. The TCP peer is the client, unless the peer is a configured trusted proxy:
 * then the client is the right-most address of the configured header (X-Forwarded-For by default) that
 * is not itself a trusted proxy. Addresses further left are written by the client and worth nothing.
 * A header sent by anyone else is ignored, so a visitor cannot pick the address its limits are kept under.
 */
export interface ClientIpOptions {
  /** Proxy addresses (IPv4/IPv6, or IPv4 CIDR like 10.0.0.0/8) whose forwarding header is believed. */
  trustedProxies: string[];
  /** Lower-case header name, e.g. "x-forwarded-for" or "x-real-ip". */
  header: string;
}

export function createClientIp(opts: ClientIpOptions) {
  const trusted = opts.trustedProxies.map(parseRule);
  const isTrusted = (ip: string) => trusted.some((r) => r(ip));
  return (peer: string | undefined, headers: Headers): string => {
    const p = plain(peer ?? "");
    if (!p || trusted.length === 0 || !isTrusted(p)) return p || "unknown";
    const raw = headers.get(opts.header);
    if (!raw) return p;
    const hops = raw.split(",").map((s) => plain(s.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      const h = hops[i]!;
      if (!isIP(h)) return p; // a malformed entry: believe nothing the chain says beyond our proxy
      if (!isTrusted(h)) return h;
    }
    return hops[0] || p;
  };
}
export type ClientIp = ReturnType<typeof createClientIp>;

/** `::ffff:1.2.3.4` → `1.2.3.4`, `[::1]` → `::1`, so one client has one key. */
export function plain(ip: string): string {
  let s = ip.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (s.toLowerCase().startsWith("::ffff:") && isIP(s.slice(7)) === 4) s = s.slice(7);
  return s.toLowerCase();
}

function parseRule(rule: string): (ip: string) => boolean {
  const [addr, bits] = rule.split("/");
  const a = plain(addr!);
  if (bits === undefined) return (ip) => ip === a;
  if (isIP(a) !== 4) throw new Error(`trusted proxy ${rule}: CIDR ranges are supported for IPv4 only; list IPv6 proxies one by one`);
  const n = Number(bits);
  // "10.0.0.0/" must not read as /0 (Number("") is 0): that would trust every address.
  if (!/^\d{1,2}$/.test(bits) || n > 32) throw new Error(`trusted proxy ${rule}: bad prefix length`);
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  const base = v4(a) & mask;
  return (ip) => isIP(ip) === 4 && (v4(ip) & mask) >>> 0 === base >>> 0;
}

const v4 = (ip: string) => ip.split(".").reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);

/**
 * The key per-address limits are kept under: an IPv4 address itself, an IPv6 address's /64 prefix. One
 * IPv6 subscriber usually holds a whole /64, so keying on full addresses would give an attacker billions of
 * fresh allowances.
 */
export function limitKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const [head, tail = ""] = ip.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = ip.includes("::") ? (tail ? tail.split(":") : []) : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4 style) counts as two groups; only the first four matter here.
  const groups = ip.includes("::") ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
