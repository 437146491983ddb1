import type { SendResult } from './ledger.js';

/**
 * The outcomes of one worker process's messages, written to the ledger in batches: whatever
 * arrived while the last write ran goes out in the next statement, so at a few hundred messages a
 * second the ledger sees a few dozen writes, and a lone message still waits for none. `write`
 * resolves when the row's outcome is in the ledger; its wire-window slot is free only then
 * (invariant 3: a row stays `sending` until its outcome is written).
 */
export class ResultWriter {
  private pending: { result: SendResult; ok: () => void; fail: (err: unknown) => void }[] = [];
  private running = false;
  /** Statements written so far (for the benchmark). */
  writes = 0;

  constructor(private readonly flush: (results: SendResult[]) => Promise<void>) {}

  write(result: SendResult): Promise<void> {
    return new Promise((ok, fail) => {
      this.pending.push({ result, ok, fail });
      if (!this.running) {
        this.running = true;
        // Outcomes that arrive in the same turn of the event loop share the first write.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.flush(batch.map((p) => p.result));
        this.writes++;
        for (const p of batch) p.ok();
      } catch (err) {
        for (const p of batch) p.fail(err);
      }
    }
    this.running = false;
  }
}
