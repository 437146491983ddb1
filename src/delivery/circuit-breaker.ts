/**
 * Failure-rate circuit breaker over the last `window` results of one issue in one worker.
 * Pure state machine: record() says whether the issue should now be paused.
 */
export class CircuitBreaker {
  private readonly results: boolean[] = [];
  private failures = 0;

  constructor(
    private readonly window: number,
    private readonly ratio: number,
    /** Too few results say nothing; wait for a quarter window (at least 5). */
    private readonly minResults = Math.max(5, Math.ceil(window / 4)),
  ) {}

  /** Records one result; returns true when the failure share has crossed the threshold. */
  record(failed: boolean): boolean {
    this.results.push(failed);
    if (failed) this.failures++;
    if (this.results.length > this.window && this.results.shift()) this.failures--;
    return this.results.length >= this.minResults && this.failures / this.results.length >= this.ratio;
  }

  reset(): void {
    this.results.length = 0;
    this.failures = 0;
  }
}
