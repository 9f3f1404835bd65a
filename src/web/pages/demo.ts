/**
 * The demo shop page's own script: shows the command queue (`kefu(...)` works before widget.js has
 * loaded) and the commands a shop calls on sign-in and sign-out. Inline scripts are not allowed by
 * kefu's Content-Security-Policy, hence a file.
 */
type KefuStub = ((...args: unknown[]) => unknown) & { q?: unknown[] };
const w = window as unknown as { kefu?: KefuStub };
w.kefu = w.kefu || function (...args: unknown[]) { (w.kefu!.q = w.kefu!.q || []).push(args); };
const kefu = (...args: unknown[]) => w.kefu!(...args);

document.getElementById("open-chat")?.addEventListener("click", () => kefu("open"));
// A demo user without a hash: the agent console shows it as "unverified" (docs/widget.md shows the signing).
document.getElementById("sign-in")?.addEventListener("click", () => kefu("setUser", { id: "demo-user-1", name: "Demo User", email: "demo@example.com" }));
document.getElementById("sign-out")?.addEventListener("click", () => kefu("reset"));
