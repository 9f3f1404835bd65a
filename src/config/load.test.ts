import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, defaultConfig, loadConfig } from "./load";
import { renderConfigToml } from "./render";

const dir = mkdtempSync(join(tmpdir(), "kefu-config-"));
function file(text: string): string {
  const p = join(dir, `c${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(p, text);
  return p;
}
const load = (text: string, env: Record<string, string> = {}) => loadConfig({ path: file(text), env });
const message = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("loadConfig", () => {
  test("defaults when no file and no fallback exists", () => {
    const { config, file } = loadConfig({ fallbackPath: join(dir, "missing.toml"), env: {} });
    expect(file).toBeNull();
    expect(config.server.port).toBe(8080);
    expect(config.storage.dir).toBe("./data");
  });

  test("file values override defaults and env overrides the file", () => {
    const { config } = load("[server]\nport = 9001\n", { KEFU_SERVER_PORT: "9002", KEFU_LOG_LEVEL: "warn" });
    expect(config.server.port).toBe(9002);
    expect(config.log.level).toBe("warn");
    expect(config.server.host).toBe("0.0.0.0");
  });

  test("the generated config.toml loads back to the defaults", () => {
    expect(load(renderConfigToml()).config).toEqual(defaultConfig());
  });

  test("the generated file's commented sub-tables can be uncommented where they stand", () => {
    // The [models.embedder] block is shown commented out; uncommenting its header and one key must give a valid
    // file (an `embedder = {}` line in [models] made any [models.embedder] table a TOML error).
    const text = renderConfigToml().replace("# [models.embedder]\n", "[models.embedder]\n").replace(/^# model = ""$/m, 'model = "bge-small"');
    expect(text).toContain("[models.embedder]\n");
    expect(load(text).config.models.embedder.model).toBe("bge-small");
  });

  test("unknown key names the key and what is allowed", () => {
    const m = message(() => load("[server]\nprot = 1\n"));
    expect(m).toContain("server.prot");
    expect(m).toContain("port");
  });

  test("unknown section", () => {
    expect(message(() => load("[sever]\nport = 1\n"))).toContain("[sever]");
  });

  test("wrong type names key, value and allowed type", () => {
    const m = message(() => load('[server]\nport = "eighty"\n'));
    expect(m).toContain("server.port");
    expect(m).toContain('"eighty"');
    expect(m).toContain("an integer from 0 to 65535");
  });

  test("out of range", () => {
    const m = message(() => load("[server]\nport = 70000\n"));
    expect(m).toContain("server.port = 70000");
    expect(m).toContain("from 0 to 65535");
  });

  test("bad env value names the variable", () => {
    const m = message(() => load("", { KEFU_SERVER_PORT: "abc" }));
    expect(m).toContain("KEFU_SERVER_PORT");
  });

  test("enum value", () => {
    expect(message(() => load('[log]\nlevel = "loud"\n'))).toContain('one of "debug", "info"');
  });

  test("rules across keys", () => {
    expect(message(() => load("[kb]\ndirect = 0.2\nsuggest = 0.5\n"))).toContain("kb.suggest = 0.5");
  });

  test("TOML syntax error gives the line", () => {
    expect(message(() => load("[server]\nport = = 1\n"))).toMatch(/line 2/);
  });

  test("missing explicit file", () => {
    expect(message(() => loadConfig({ path: join(dir, "nope.toml") }))).toContain("does not exist");
  });
});
