import source from "../../plugins/example.ts" with { type: "text" };

/** Source of plugins/example.ts, embedded so that `kefu init` can write it from the binary. */
export const examplePlugin = source as unknown as string;
