import type { Command } from "../command";
import { askCommand } from "./ask";
import { evalCommand } from "./eval";
import { importCommand } from "./import";
import { initCommand } from "./init";
import { serveCommand } from "./serve";
import { userCommand } from "./user";

export const commands: Command[] = [serveCommand, initCommand, importCommand, askCommand, evalCommand, userCommand];
