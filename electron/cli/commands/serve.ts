// glance serve: the local OpenAI-compatible API without the window. The server runs in an engine process this
// command supervises (as the desktop app's does), so a crash in native code restarts the engine and its server on
// the same port and token, and the next request works.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_API_PORT, isWebOrigin } from '../../../common/local-api.ts';
import type { ApiConfig } from '../../engine/api/config.ts';
import { apiToken } from '../../engine/api/token.ts';
import { chooseChatModel } from '../../engine/chat/model-choice.ts';
import { openDatabase } from '../../engine/db/database.ts';
import { LibraryStore } from '../../engine/library/store.ts';
import { glancePaths, resolveHome } from '../../engine/paths.ts';
import type { EngineSettings } from '../../engine/process/contract.ts';
import { EngineSupervisor } from '../../engine/process/supervisor.ts';
import { DEFAULT_SETTINGS, readSettings } from '../../engine/settings.ts';
import { type CliIo, EXIT, UsageError } from '../io.ts';

export const usage = `Usage: glance serve [--port N] [--chat-model ID|FILE --mmproj FILE] [--clip-model DIR] [--origin URL]...
       glance serve --print-token

A local OpenAI-compatible API on http://127.0.0.1:${DEFAULT_API_PORT}/v1 (and [::1]), for this machine only:
GET /v1/models, POST /v1/chat/completions (images as data: URLs or glance://photo/<id>, streaming),
POST /v1/embeddings (CLIP: strings, and images as data: URLs), POST /v1/glance/search (the library).
Every request needs the token: Authorization: Bearer <token>.

Options:
  --port N               the port (default: the one in Settings → Local API, ${DEFAULT_API_PORT} unless changed; 0: any free one)
  --chat-model ID|FILE   the chat model requests get for "default" (a catalog id or a .gguf file; default: the
                         one chosen in Settings, else the installed one); installed catalog models are served too
  --mmproj FILE          the vision projector for --chat-model FILE
  --clip-model DIR       a CLIP model folder for /v1/embeddings (default: the library's model)
  --origin URL           a web page origin allowed to call the API (e.g. http://localhost:3000); default: those
                         allowed in Settings, none unless added
  --print-token          print the token (made if there is none yet) and exit
  --home DIR             Glance's data folder (default: GLANCE_HOME, else the app-data folder)
`;

export async function serveCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      home: { type: 'string' },
      port: { type: 'string' },
      'chat-model': { type: 'string' },
      mmproj: { type: 'string' },
      'clip-model': { type: 'string' },
      origin: { type: 'string', multiple: true },
      'print-token': { type: 'boolean' },
    },
  });
  if (positionals.length > 0) throw new UsageError(`glance serve takes no arguments (got "${positionals[0]}")`);
  const home = resolveHome(values.home, io.env);
  if (values['print-token']) {
    const { token } = await apiToken(home);
    io.out(`${token}\n`);
    return EXIT.ok;
  }
  // defaults from Settings → Local API (the port and the allowed origins the window shows), if saved
  const saved = savedApiSettings(home);
  const port = values.port === undefined ? saved.localApiPort : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535 (got "${values.port}")`);
  }
  const origins = values.origin ?? saved.localApiOrigins;
  for (const o of values.origin ?? []) {
    if (!isWebOrigin(o)) throw new UsageError(`--origin takes an origin such as http://localhost:3000 (got "${o}")`);
  }
  if (values.mmproj && !values['chat-model']) throw new UsageError('--mmproj goes with --chat-model FILE');
  let chat: ApiConfig['chat'];
  if (values['chat-model']) {
    // checked now: a model that is not there is said before the server starts
    const { label, ...files } = chooseChatModel(glancePaths(home), {
      model: values['chat-model'],
      ...(values.mmproj ? { mmproj: values.mmproj } : {}),
    });
    const file = values['chat-model'].endsWith('.gguf') || values['chat-model'].includes(path.sep);
    for (const f of [files.model, files.mmproj]) {
      if (!existsSync(f)) {
        io.err(
          file
            ? `glance serve: ${f} does not exist\n`
            : `glance serve: ${label} is not installed: glance models download ${label}\n`,
        );
        return EXIT.model;
      }
    }
    chat = file ? { label, ...files } : { catalogId: label };
  }
  const config: ApiConfig = {
    port,
    ...(chat ? { chat } : {}),
    ...(values['clip-model'] ? { clipDir: values['clip-model'] } : {}),
    ...(origins.length ? { origins } : {}),
  };
  let announced = false;
  const engine = new EngineSupervisor({
    home,
    env: { GLANCE_API: JSON.stringify(config) },
    onStatus: (s) => {
      if (s.state === 'restarting' && announced)
        io.err(`the engine stopped (${s.lastCrash ?? 'crashed'}): restarting it\n`);
    },
  });
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await engine.start();
    const status = await engine.call('apiStatus');
    if (!status.running) {
      io.err(`glance serve: ${status.error ?? 'the API did not start'}\n`);
      return EXIT.someFailed;
    }
    announced = true;
    io.out(`Glance API on ${status.url} (token file: ${status.tokenFile}; glance serve --print-token prints it)\n`);
    await stopped;
    return EXIT.ok;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await engine.stop();
  }
}

/** The Local API settings saved in the data folder (the defaults when there is no database yet). */
function savedApiSettings(home: string): Pick<EngineSettings, 'localApiPort' | 'localApiOrigins'> {
  const paths = glancePaths(home);
  if (!existsSync(paths.db)) return DEFAULT_SETTINGS;
  const db = openDatabase(paths.db);
  try {
    return readSettings(new LibraryStore(db), paths.db).settings;
  } finally {
    db.close();
  }
}
