import type { AppContext } from "./context";

/** Work done once on an empty database so the quick start shows a working bot. */
export async function seedOnFirstStart(ctx: AppContext): Promise<void> {
  void ctx;
}
