// glance models list | download ID | remove ID | verify ID
import { parseArgs } from 'node:util';
import { formatBytes } from '../../../native-models/download/hub.ts';
import { ModelManager } from '../../engine/models/model-manager.ts';
import { glancePaths, resolveHome } from '../../engine/paths.ts';
import { formatDuration } from '../format.ts';
import { type CliIo, EXIT, UsageError } from '../io.ts';

export const usage = `Usage: glance models [list]          the catalog, and what is installed
       glance models download ID     download a model (resumes an interrupted download; verifies SHA-256)
       glance models verify ID       re-check an installed model's files
       glance models remove ID       delete an installed model

Options:
  --json                 print JSON
  --home DIR             Glance's data folder (default: GLANCE_HOME, else the app-data folder)
The hub is huggingface.co, or GLANCE_HUB_ENDPOINT / HF_ENDPOINT; gated models need HF_TOKEN.
`;

export async function modelsCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, home: { type: 'string' } },
  });
  const [action = 'list', id, ...rest] = positionals;
  if (rest.length) throw new UsageError(`unexpected "${rest[0]}"`);
  const manager = new ModelManager(glancePaths(resolveHome(values.home, io.env)));
  switch (action) {
    case 'list': {
      const list = await manager.list();
      if (values.json) {
        io.out(
          `${JSON.stringify(
            list.map((m) => ({ id: m.entry.id, kind: m.entry.kind, installed: m.installed, size: m.size, dir: m.dir })),
            null,
            2,
          )}\n`,
        );
        return EXIT.ok;
      }
      for (const m of list) {
        io.out(
          `${m.installed ? '●' : '○'} ${m.entry.id.padEnd(22)} ${m.entry.kind.padEnd(5)} ${formatBytes(m.size).padStart(8)}  ${m.entry.goodAt}\n`,
        );
      }
      io.out('● installed   ○ available: glance models download ID\n');
      return EXIT.ok;
    }
    case 'download': {
      if (!id) throw new UsageError('glance models download ID');
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      try {
        const m = await manager.download(id, {
          signal: abort.signal,
          onProgress: (p) => {
            if (!io.tty) return;
            const pct = p.total ? ((p.received / p.total) * 100).toFixed(1) : '?';
            io.err(
              `\r${p.file}: ${pct}% of ${formatBytes(p.total)} · ${formatBytes(p.bytesPerSecond)}/s · ETA ${formatDuration(p.etaSeconds)}\x1b[K`,
            );
          },
        });
        if (io.tty) io.err('\n');
        io.out(
          values.json ? `${JSON.stringify(m, null, 2)}\n` : `${id} installed (${m.files.length} files, verified)\n`,
        );
        return EXIT.ok;
      } finally {
        process.off('SIGINT', onSignal);
      }
    }
    case 'verify': {
      if (!id) throw new UsageError('glance models verify ID');
      const results = await manager.verify(id);
      if (values.json) io.out(`${JSON.stringify(results, null, 2)}\n`);
      else
        for (const r of results)
          io.out(`${r.ok ? 'ok     ' : 'BROKEN '} ${r.file}${r.reason ? `: ${r.reason}` : ''}\n`);
      const bad = results.filter((r) => !r.ok).length;
      if (bad) io.err(`${bad} file(s) damaged: glance models download ${id} fetches them again\n`);
      return bad ? EXIT.someFailed : EXIT.ok;
    }
    case 'remove': {
      if (!id) throw new UsageError('glance models remove ID');
      const had = await manager.remove(id);
      io.out(had ? `${id} removed\n` : `${id} was not installed (partial files, if any, removed)\n`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown action "${action}"`);
  }
}
