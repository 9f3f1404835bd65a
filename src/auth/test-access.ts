import { accessPlugin } from "./access";
import type { User } from "./user-store";

/**
 * An access plugin for unit tests and benchmarks that mount one feature's routes alone: every caller is
 * `user` (an admin by default) and may call /api/ask. The real checks are tested through the server.
 */
export function testAccess(user: User | null = { id: 1, name: "admin", role: "admin", displayName: null, maxConcurrent: 5, disabled: false, createdAt: 0 }) {
  return accessPlugin({
    authenticate: () => user,
    isVisitorToken: () => false,
    askAllowed: () => true,
    clientIp: () => "127.0.0.1",
    maxBody: 20 * 1024 * 1024,
  });
}
