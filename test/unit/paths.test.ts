import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultHome, glancePaths, modelDir, resolveHome } from '../../electron/engine/paths.ts';

describe('where Glance keeps its data', () => {
  it('uses the folder Electron gives the app on each platform', () => {
    expect(defaultHome('linux', {}, '/home/ana')).toBe('/home/ana/.config/Glance');
    expect(defaultHome('linux', { XDG_CONFIG_HOME: '/cfg' }, '/home/ana')).toBe('/cfg/Glance');
    expect(defaultHome('darwin', {}, '/Users/ana')).toBe('/Users/ana/Library/Application Support/Glance');
    expect(defaultHome('win32', { APPDATA: 'C:\\Users\\ana\\AppData\\Roaming' }, 'C:\\Users\\ana')).toBe(
      'C:\\Users\\ana\\AppData\\Roaming\\Glance',
    );
  });

  it('prefers --home, then GLANCE_HOME', () => {
    expect(resolveHome('/a', { GLANCE_HOME: '/b' })).toBe(path.resolve('/a'));
    expect(resolveHome(undefined, { GLANCE_HOME: 'rel/b' })).toBe(path.resolve('rel/b'));
    expect(resolveHome(undefined, {})).toBe(defaultHome(process.platform, {}));
  });

  it('keeps models under models/<catalog id>', () => {
    expect(modelDir(glancePaths('/data'))).toBe(path.join('/data', 'models', 'clip-vit-base-patch32'));
  });
});
