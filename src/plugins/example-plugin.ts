import source from "../../plugins/example.ts" with { type: "text" };
import invoice from "../../plugins/invoice.ts" with { type: "text" };
import orderStatus from "../../plugins/order-status.ts" with { type: "text" };
// @ts-expect-error: a text import of the shipped types (a declaration file has no value to import)
import types from "../../plugins/kefu-plugin.d.ts" with { type: "text" };

/** Source of plugins/example.ts, embedded so that `kefu init` can write it from the binary. */
export const examplePlugin = source as unknown as string;

/** Every file `kefu init` writes into plugins/: the examples and the types of "kefu/plugin", embedded in the binary. */
export const examplePlugins: Record<string, string> = {
  "example.ts": examplePlugin,
  "order-status.ts": orderStatus as unknown as string,
  "invoice.ts": invoice as unknown as string,
  "kefu-plugin.d.ts": types as unknown as string,
};
