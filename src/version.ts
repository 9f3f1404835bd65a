import pkg from "../package.json" with { type: "json" };

/** Embedded at build time because package.json is bundled into the binary. */
export const VERSION: string = pkg.version;
