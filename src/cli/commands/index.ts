import type { Command } from "../command";
import { initCommand } from "./init";
import { serveCommand } from "./serve";
import { userCommand } from "./user";

export const commands: Command[] = [serveCommand, initCommand, userCommand];
