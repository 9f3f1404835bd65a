import type { Command } from "../command";
import { askCommand } from "./ask";
import { backupCommand } from "./backup";
import { evalCommand } from "./eval";
import { importCommand } from "./import";
import { initCommand } from "./init";
import { migrateStorageCommand } from "./migrate-storage";
import { modelsCommand } from "./models";
import { restoreCommand } from "./restore";
import { serveCommand } from "./serve";
import { userCommand } from "./user";
import { visitorCommand } from "./visitor";

export const commands: Command[] = [serveCommand, initCommand, importCommand, askCommand, evalCommand, userCommand, backupCommand, restoreCommand, visitorCommand, modelsCommand, migrateStorageCommand];
