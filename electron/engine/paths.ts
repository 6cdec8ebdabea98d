// Where Glance keeps its data and models. The default is the folder Electron's app.getPath('userData') gives the
// desktop app, so the window and the command line share one library; GLANCE_HOME (or --home) moves everything.
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CLIP_ID } from '../../native-models/catalog.ts';

export const APP_NAME = 'Glance';

export function defaultHome(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home: string = os.homedir(),
): string {
  if (platform === 'win32')
    return path.win32.join(env.APPDATA ?? path.win32.join(home, 'AppData', 'Roaming'), APP_NAME);
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Application Support', APP_NAME);
  return path.posix.join(env.XDG_CONFIG_HOME || path.posix.join(home, '.config'), APP_NAME);
}

/** The data folder: an explicit --home, then GLANCE_HOME, then the platform's app-data folder. */
export function resolveHome(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = explicit || env.GLANCE_HOME;
  return chosen ? path.resolve(chosen) : defaultHome(process.platform, env);
}

export interface GlancePaths {
  home: string;
  models: string;
  /** The app's one SQLite database: the photo index and the conversations. */
  db: string;
}

export function glancePaths(home: string): GlancePaths {
  return { home, models: path.join(home, 'models'), db: path.join(home, 'glance.db') };
}

/** Where an installed catalog model lives. */
export function modelDir(paths: GlancePaths, id: string = DEFAULT_CLIP_ID): string {
  return path.join(paths.models, id);
}
