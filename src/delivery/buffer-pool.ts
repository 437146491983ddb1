/**
 * Message buffers reused from one send to the next. A newsletter is ~100 KB, so a new buffer per
 * message is ~100 MB a second of short-lived memory at full speed, which the garbage collector lets
 * pile up before it runs; the wire window holds only a few messages at once, so a few buffers do.
 * A buffer goes back only once the relay has accepted its message (every byte was on the wire).
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    /** Free buffers kept; more are left to the garbage collector. */
    private readonly keep: number,
    private readonly granule = 16 * 1024,
  ) {}

  /** A buffer of at least `size` bytes: a free one that is large enough, else a new one. */
  take(size: number): Buffer {
    const i = this.free.findIndex((b) => b.length >= size);
    if (i >= 0) return this.free.splice(i, 1)[0] as Buffer;
    return Buffer.allocUnsafeSlow(Math.ceil(size / this.granule) * this.granule);
  }

  give(buf: Buffer): void {
    if (this.free.length < this.keep) this.free.push(buf);
  }

  get size(): number {
    return this.free.length;
  }
}
