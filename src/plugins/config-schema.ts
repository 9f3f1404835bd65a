import type { ConfigSchema } from "kefu/plugin";

/**
 * Validates a plugin's `[plugins.<name>]` section against the small JSON Schema subset a plugin declares
 * (plugins/kefu-plugin.d.ts ConfigSchema) and fills in defaults. Plugins run in workers, so their schema
 * arrives as plain data: TypeBox's checker needs its own symbols and cannot read it.
 */
export type { ConfigSchema };

const typeOf = (v: unknown) => (Array.isArray(v) ? "array" : v === null ? "null" : Number.isInteger(v) ? "integer" : typeof v);

/** Returns the value with defaults filled in, or the first problem as `path: message`. */
export function checkConfig(schema: ConfigSchema, value: unknown, path = ""): { ok: true; value: unknown } | { ok: false; error: string } {
  const at = path || "(section)";
  if (value === undefined) value = structuredClone(schema.default);
  if (value === undefined) return { ok: true, value };
  const t = typeOf(value);
  if (schema.type && !(schema.type === t || (schema.type === "number" && t === "integer"))) return { ok: false, error: `${at}: expected ${schema.type}, got ${t}` };
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) return { ok: false, error: `${at}: expected one of ${JSON.stringify(schema.enum)}` };
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) return { ok: false, error: `${at}: must be >= ${schema.minimum}` };
    if (schema.maximum !== undefined && value > schema.maximum) return { ok: false, error: `${at}: must be <= ${schema.maximum}` };
  }
  if (typeof value === "string" && schema.pattern) {
    let re: RegExp;
    try {
      re = new RegExp(schema.pattern, "u");
    } catch {
      return { ok: false, error: `${at}: the schema's pattern ${JSON.stringify(schema.pattern)} is not a regular expression` };
    }
    if (!re.test(value)) return { ok: false, error: `${at}: must match ${schema.pattern}` };
  }
  if (Array.isArray(value) && schema.items) {
    const out: unknown[] = [];
    for (const [i, item] of value.entries()) {
      const r = checkConfig(schema.items, item, `${path}[${i}]`);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return { ok: true, value: out };
  }
  if (t === "object" && (schema.properties || schema.required || schema.additionalProperties === false)) {
    const obj = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of schema.required ?? []) if (obj[key] === undefined && schema.properties?.[key]?.default === undefined) return { ok: false, error: `${path ? path + "." : ""}${key}: required` };
    for (const [key, v] of Object.entries(obj)) {
      if (!schema.properties?.[key] && schema.additionalProperties === false) return { ok: false, error: `${path ? path + "." : ""}${key}: unknown key` };
      out[key] = v;
    }
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      const r = checkConfig(sub, obj[key], path ? `${path}.${key}` : key);
      if (!r.ok) return r;
      if (r.value !== undefined) out[key] = r.value;
    }
    return { ok: true, value: out };
  }
  return { ok: true, value };
}
