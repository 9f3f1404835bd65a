import { Kind, type TSchema } from "@sinclair/typebox";

/** One-phrase description of what a schema accepts, for error messages and docs. */
export function allowed(schema: TSchema): string {
  const kind = schema[Kind];
  if (kind === "Union") {
    const lits = (schema.anyOf as TSchema[]).map((s) => s.const);
    if (lits.every((l) => l !== undefined)) return `one of ${lits.map((l) => JSON.stringify(l)).join(", ")}`;
    return (schema.anyOf as TSchema[]).map(allowed).join(" or ");
  }
  if (kind === "Integer" || kind === "Number") {
    const noun = kind === "Integer" ? "an integer" : "a number";
    const { minimum: lo, maximum: hi } = schema;
    if (lo !== undefined && hi !== undefined) return `${noun} from ${lo} to ${hi}`;
    if (lo !== undefined) return `${noun} >= ${lo}`;
    if (hi !== undefined) return `${noun} <= ${hi}`;
    return noun;
  }
  if (kind === "String") {
    if (schema.minLength === 1) return "a non-empty string";
    if (schema.minLength) return `a string of at least ${schema.minLength} characters`;
    return "a string";
  }
  if (kind === "Boolean") return "true or false";
  if (kind === "Array") {
    const item = allowed(schema.items as TSchema);
    return item === "a string" ? "an array of strings" : `an array whose items are each ${item}`;
  }
  if (kind === "Object") return `a table with keys ${Object.keys(schema.properties).join(", ")}`;
  if (kind === "Literal") return JSON.stringify(schema.const);
  return "a valid value";
}

/** TOML literal for a default value. */
export function tomlValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(", ")}]`;
  if (v && typeof v === "object")
    return `{ ${Object.entries(v).map(([k, x]) => `${k} = ${tomlValue(x)}`).join(", ")} }`;
  return String(v);
}
