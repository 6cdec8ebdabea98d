// The local API's bearer token: 32 random bytes (base64url), made at the API's first start and kept in the data
// folder in a file only its owner can read (0600), so that another user of the machine cannot call the API. Shown in
// Settings and by `glance serve --print-token`; deleting the file makes a new one at the next start.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const TOKEN_FILE = 'api-token';
const TOKEN = /^[A-Za-z0-9_-]{32,128}$/;

/** The token in `home`, made first when there is none (or the file holds no valid token). */
export async function apiToken(home: string): Promise<{ token: string; file: string; created: boolean }> {
  const file = path.join(home, TOKEN_FILE);
  const existing = await readFile(file, 'utf8').catch(() => null);
  if (existing !== null && TOKEN.test(existing.trim())) {
    // a copy restored with looser permissions is tightened again (POSIX; Windows has no mode bits)
    if (process.platform !== 'win32' && ((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
    return { token: existing.trim(), file, created: false };
  }
  const token = randomBytes(32).toString('base64url');
  // written whole, then renamed: a killed process never leaves half a token
  await mkdir(home, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${token}\n`, { mode: 0o600 });
  await rename(tmp, file);
  return { token, file, created: true };
}
