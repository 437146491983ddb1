import type { Logger } from '../log.js';

/**
 * Work done after the reply has gone (e.g. the subscribe form's lookups and mail), so every
 * answer takes the same time whatever the address. settle() waits for all of it (tests, shutdown).
 */
export interface BackgroundTasks {
  run(name: string, task: () => Promise<unknown>): void;
  settle(): Promise<void>;
}

export function createBackgroundTasks(log: Logger): BackgroundTasks {
  const running = new Set<Promise<unknown>>();
  return {
    run(name, task) {
      const p = task()
        .catch((err: unknown) => {
          log.error({ event: 'http.background.failed', task: name, err }, 'background task failed');
        })
        .finally(() => running.delete(p));
      running.add(p);
    },
    async settle() {
      while (running.size) await Promise.all([...running]);
    },
  };
}
