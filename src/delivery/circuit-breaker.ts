/** The pause reason when most failures in the window were broken connections, not replies. */
export const RELAY_CONNECTION_REASON = 'relay_connection';

/**
 * Failure-rate circuit breaker over the last `window` results of one issue in one worker.
 * Pure state machine: record() says whether the issue should now be paused, cause() why.
 */
export class CircuitBreaker {
  private readonly results: (0 | 1 | 2)[] = [];
  private failures = 0;
  private connectionFailures = 0;

  constructor(
    private readonly window: number,
    private readonly ratio: number,
    /** Too few results say nothing; wait for a quarter window (at least 5). */
    private readonly minResults = Math.max(5, Math.ceil(window / 4)),
  ) {}

  /**
   * Records one result (`connection`: the failure was a broken connection rather than a reply);
   * returns true when the failure share has crossed the threshold.
   */
  record(failed: boolean, connection = false): boolean {
    const r = failed ? (connection ? 2 : 1) : 0;
    this.results.push(r);
    if (r) this.failures++;
    if (r === 2) this.connectionFailures++;
    if (this.results.length > this.window) {
      const old = this.results.shift();
      if (old) this.failures--;
      if (old === 2) this.connectionFailures--;
    }
    return this.results.length >= this.minResults && this.failures / this.results.length >= this.ratio;
  }

  /**
   * Why it tripped: broken connections (the relay, not our messages, is the trouble: the pause
   * ends by itself when a probe succeeds) or reply-level failures (a person must look).
   */
  cause(): 'failure_rate' | typeof RELAY_CONNECTION_REASON {
    return this.connectionFailures * 2 > this.failures ? RELAY_CONNECTION_REASON : 'failure_rate';
  }

  reset(): void {
    this.results.length = 0;
    this.failures = 0;
    this.connectionFailures = 0;
  }
}

/** One breaker per issue for a worker's life; forget an issue when it is finished. */
export class IssueBreakers {
  private readonly breakers = new Map<number, CircuitBreaker>();

  constructor(
    private readonly window: number,
    private readonly ratio: number,
  ) {}

  of(issueId: number): CircuitBreaker {
    let b = this.breakers.get(issueId);
    if (!b) {
      b = new CircuitBreaker(this.window, this.ratio);
      this.breakers.set(issueId, b);
    }
    return b;
  }

  forget(issueId: number): void {
    this.breakers.delete(issueId);
  }
}
