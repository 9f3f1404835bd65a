/**
 * Files embedded in the compiled binary. Under `bun run` nothing is embedded and
 * everything is read from node_modules and ./public; scripts/build.ts replaces this
 * module with one that imports the files `with { type: "file" }`.
 */
export const embedded: {
  /** Path (inside the binary's virtual file system) of the sqlite-vec loadable extension. */
  vecExtension: string | null;
  /** URL path ("/index.html") → embedded file path. */
  publicFiles: Record<string, string>;
} = { vecExtension: null, publicFiles: {} };
