// Which view is shown, and the engine's health: the app-wide state every view can read.

import type { EngineStatusView } from '../../../electron/ipc/contract.ts';
import type { Api } from '../lib/api.ts';

export type View = 'library' | 'look' | 'chat' | 'models' | 'settings';

export class AppState {
  view = $state<View>('library');
  engine = $state<EngineStatusView>({ state: 'starting', restarts: 0 });
  /** A message for the whole window (engine crashed and restarted, say). */
  notice = $state<string | null>(null);

  constructor(readonly api: Api) {
    api.on('engine.status', (s) => {
      this.engine = s;
      if (s.state === 'restarting') {
        this.notice = `The engine stopped and is restarting${s.lastCrash ? `: ${s.lastCrash}` : ''}. Your data is safe.`;
      } else if (s.state === 'ready' && s.restarts > 0) {
        this.notice = 'The engine restarted. You can carry on.';
      }
    });
  }

  async refreshStatus(): Promise<void> {
    this.engine = await this.api.call('engine.status');
  }
}
