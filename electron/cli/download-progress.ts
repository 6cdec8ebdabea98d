// A model download on the terminal: the one progress line of `glance models download`, also shown when a command
// fetches the CLIP model it needs. Ctrl+C stops the download; what arrived is kept and the next run resumes it.
import { ALL_MODELS, licenceNote } from '../../native-models/catalog.ts';
import { formatBytes } from '../../native-models/download/hub.ts';
import type { Manifest, ModelManager } from '../engine/models/model-manager.ts';
import { formatDuration } from './format.ts';
import type { CliIo } from './io.ts';

export async function downloadWithProgress(manager: ModelManager, id: string, io: CliIo): Promise<Manifest> {
  // A licence that limits what the person may do with the model is said before the download, not after.
  const entry = ALL_MODELS.find((e) => e.id === id);
  const note = entry && licenceNote(entry);
  if (note) io.err(`note: ${note}\n`);
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
    return m;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
