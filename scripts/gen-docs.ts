// Regenerates docs/config.md from the config schema.
import { renderConfigMarkdown } from "../src/config/render";

await Bun.write(new URL("../docs/config.md", import.meta.url), renderConfigMarkdown());
console.log("wrote docs/config.md");
