import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/load";

// [plugins.<name>] tables in config.toml reach their plugin; other unknown [plugins] keys stay errors.
test("config.toml: [plugins.<name>] tables are accepted beside the host's keys; a stray key is refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "kefu-plugins-config-"));
  try {
    const file = join(dir, "config.toml");
    writeFileSync(file, `[plugins]\nhook_timeout_ms = 300\norder = ["invoice", "order-status"]\n\n[plugins.order-status]\nseed_samples = false\n\n[plugins.invoice]\nnotify = { email = "finance@example.cn" }\n`);
    const { config } = loadConfig({ path: file, env: {} });
    expect(config.plugins.hook_timeout_ms).toBe(300);
    expect(config.plugins.order).toEqual(["invoice", "order-status"]);
    const sections = config.plugins as unknown as Record<string, unknown>;
    expect(sections["order-status"]).toEqual({ seed_samples: false });
    expect(sections.invoice).toEqual({ notify: { email: "finance@example.cn" } });

    writeFileSync(file, `[plugins]\nhook_timout_ms = 300\n`);
    expect(() => loadConfig({ path: file, env: {} })).toThrow("unknown config key plugins.hook_timout_ms");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
