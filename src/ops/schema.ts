import { allMigrations } from "../storage/migrations";

/** The schema version this kefu writes: the number of migrations it knows (the meta table's schema_version). */
export const SCHEMA_VERSION = allMigrations.length;
