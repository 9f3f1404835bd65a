import { answerLaterMigrations, answerMigrations } from "../answer/migrations";
import { authMigrations } from "../auth/migrations";
import { cannedMigrations } from "../canned/migrations";
import { chatLaterMigrations, chatMigrations } from "../chat/migrations";
import { coreMigrations } from "./core-migrations";
import { kbMigrations } from "../kb/migrations";
import { insightsLaterMigrations, insightsMigrations } from "../insights/migrations";
import { opsMigrations } from "../ops/migrations";
import { pluginMigrations } from "../plugins/migrations";
import { settingsMigrations } from "../settings/migrations";
import { tuningMigrations } from "../kb/tuning/migrations";
import type { Migration } from "./migrate";

/** Every feature's migrations, in the order they were introduced. Append only. */
export const allMigrations: Migration[] = [...coreMigrations, ...kbMigrations, ...chatMigrations, ...answerMigrations, ...authMigrations, ...cannedMigrations, ...opsMigrations, ...settingsMigrations, ...tuningMigrations, ...insightsMigrations, ...pluginMigrations, ...insightsLaterMigrations, ...chatLaterMigrations, ...answerLaterMigrations];
