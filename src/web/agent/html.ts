import { h, type VNode } from "preact";
import htm from "htm";

/** Tagged templates for Preact. Interpolated values become text children, never markup. */
export const html = htm.bind(h) as unknown as (strings: TemplateStringsArray, ...values: unknown[]) => VNode;
