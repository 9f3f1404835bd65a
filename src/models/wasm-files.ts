/**
 * onnxruntime-web's WASM files for `[models] backend = "wasm"`. From source they are read from
 * node_modules; scripts/build.ts replaces this module with one that embeds them in the binary.
 */
export const embeddedWasm: { mjs: string; wasm: string; version: string } | null = null;
