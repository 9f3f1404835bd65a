import { LazyLru } from "../limits/lazy-lru";
import { createRateLimiter } from "../limits/rate-limit";
import { limitKey } from "../server/client-ip";
import type { ChatConfig } from "./service";

/**
 * Per-client-IP limits of the public visitor socket: open sockets, new visitors a minute, and a
 * cool-down for an address whose socket was closed for flooding. An IPv6 /64 counts as one address
 * (limitKey). One instance per node; memory is bounded (LRUs), and an address that is forgotten only
 * gets a fresh allowance.
 */
export function createSocketGuard(config: ChatConfig, now: () => number = () => performance.now()) {
  const open = new Map<string, number>();
  const cooling = new LazyLru<string, number>({ max: 100_000 });
  const newVisitors = createRateLimiter({
    burst: config.new_visitors_per_ip_per_minute,
    perSecond: config.new_visitors_per_ip_per_minute / 60,
    maxKeys: 100_000,
    now,
  });
  return {
    /** Why a new socket from `ip` is refused, or null. */
    refuse(address: string): string | null {
      const ip = limitKey(address);
      const until = cooling.get(ip);
      if (until !== undefined && until > now()) return "this address sent too much; try again later";
      if ((open.get(ip) ?? 0) >= config.max_sockets_per_ip) return "too many open connections from this address";
      return null;
    },
    opened(address: string) {
      const ip = limitKey(address);
      open.set(ip, (open.get(ip) ?? 0) + 1);
    },
    closed(address: string) {
      const ip = limitKey(address);
      const n = (open.get(ip) ?? 1) - 1;
      if (n <= 0) open.delete(ip);
      else open.set(ip, n);
    },
    /** A socket of `ip` was closed for flooding: refuse its new sockets for a while. */
    coolDown(address: string) {
      const ip = limitKey(address);
      cooling.set(ip, now() + config.flood_cooldown_s * 1000);
    },
    /** Takes one new-visitor slot of `ip`; false when its minute is used up. */
    newVisitor(address: string): boolean {
      const ip = limitKey(address);
      return newVisitors.take(ip);
    },
  };
}
export type SocketGuard = ReturnType<typeof createSocketGuard>;
