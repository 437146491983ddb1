/**
 * A discarding SMTP sink in its own process for the send benchmark (and the tests that need a relay
 * whose clock is not the test's): counts messages and bytes, the duplicates among them (a
 * recipient seen before: every delivery has its own), and the most messages it took in any one
 * second. Listens on BENCH_SINK_PORTS
 * ports (default 1), one relay each.
 */
import { SMTPServer } from 'smtp-server';

let messages = 0;
let bytes = 0;
let duplicates = 0;
const recipients = new Set<string>();
// Arrival times (ms) of every message, for the busiest one-second window.
let times = new Float64Array(1 << 16);

/** The most messages in any one second, from the `from`-th message on. */
function busiestSecond(from: number): number {
  let best = 0;
  let lo = from;
  for (let hi = from; hi < messages; hi++) {
    while ((times[hi] as number) - (times[lo] as number) >= 1000) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

const server = () =>
  new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    hideSTARTTLS: true,
    logger: false,
    size: 50 * 1024 * 1024,
    onData(stream, session, callback) {
      stream.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address).join(',');
        if (recipients.has(to)) duplicates++;
        else recipients.add(to);
        if (messages === times.length) {
          const next = new Float64Array(times.length * 2);
          next.set(times);
          times = next;
        }
        times[messages++] = performance.now();
        callback(null, 'Queued');
      });
    },
  });

const n = Number(process.env.BENCH_SINK_PORTS ?? 1);
const ports = await Promise.all(
  Array.from(
    { length: n },
    () =>
      new Promise<number>((ok) => {
        const s = server();
        s.listen(0, '127.0.0.1', () => ok((s.server.address() as { port: number }).port));
      }),
  ),
);
process.send?.({ type: 'ready', urls: ports.map((p) => `smtp://127.0.0.1:${p}`) });
process.on('message', (m: { type: string; from?: number }) => {
  if (m.type === 'count')
    process.send?.({ type: 'count', messages, bytes, duplicates, busiestSecond: busiestSecond(m.from ?? 0) });
});
