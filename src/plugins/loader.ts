/** The plugin host under the name the answer pipeline and the app context use. */
export type { PluginHost as LoadedPlugins } from "./host";
