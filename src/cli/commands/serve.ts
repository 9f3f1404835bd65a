import { loadConfig } from "../../config/load";
import { createLogger } from "../../log/logger";
import { startKefu } from "../../server/start";
import { configFlag, parseFlags, type Command } from "../command";
import { report } from "../report";

export const serveCommand: Command = {
  name: "serve",
  summary: "start the server (default command)",
  usage: `Usage: kefu [serve] [-c config.toml]

Starts the HTTP and WebSocket server. Without -c, ./config.toml is used when it
exists, otherwise the built-in defaults (port 8080, data in ./data).
Every key can be overridden with KEFU_<SECTION>_<KEY>, e.g. KEFU_SERVER_PORT=9000.
Stops gracefully on SIGTERM or SIGINT.`,
  async run(argv) {
    const { values } = parseFlags(argv, configFlag, false);
    const { config, baseDir, file } = loadConfig({ path: values.config });
    const log = createLogger({ level: config.log.level });
    const kefu = await startKefu({ config, baseDir, log });
    log.info("config", { file: file ?? "(built-in defaults)" });
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        kefu
          .stop(signal)
          .then(() => process.exit(0))
          .catch((e) => process.exit(report(e)));
      });
    }
    return -1; // keep running
  },
};
