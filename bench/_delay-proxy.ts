/**
 * Delaying TCP proxies for the send benchmark, in a process of their own: each listens on a port
 * of its own and forwards to one relay, holding every chunk `delayMs` (half the round trip) in
 * each direction. Chunks are scheduled by arrival time, not one after another, so pipelined bytes
 * keep overlapping on the way as they would on a long link; order within a direction is kept.
 *
 * It also counts the round trips the clients made: a client "turn" is a chunk from the client that
 * follows the server's last words (or opens the connection); turns per message is what the bound
 * divides the round-trip time by.
 *
 * Parent → child: { type: 'start', targets: [{ host, port }], delayMs }, then { type: 'count' }.
 * Child → parent: { type: 'ready', ports }, { type: 'count', connections, turns }.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pending {
  at: number;
  chunk: Buffer | null; // null: the sender ended its side
}

let connections = 0;
let turns = 0;

/** One direction of a proxied connection: chunks go out `delayMs` after they came in. */
function delayed(from: Socket, to: Socket, delayMs: number, onChunk: () => void): void {
  const queue: Pending[] = [];
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    timer = null;
    const now = performance.now();
    while (queue.length && (queue[0] as Pending).at <= now + 0.5) {
      const { chunk } = queue.shift() as Pending;
      if (chunk === null) to.end();
      else if (!to.destroyed) to.write(chunk);
    }
    if (queue.length) timer = setTimeout(flush, (queue[0] as Pending).at - performance.now());
  };
  const push = (chunk: Buffer | null) => {
    queue.push({ at: performance.now() + delayMs, chunk });
    if (!timer) timer = setTimeout(flush, delayMs);
  };
  from.on('data', (chunk: Buffer) => {
    onChunk();
    push(chunk);
  });
  from.on('end', () => push(null));
}

function proxy(target: { host: string; port: number }, delayMs: number): Promise<Server> {
  const server = createServer((client) => {
    connections++;
    const upstream = connect(target.port, target.host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Whose words came last on this connection: a client chunk after the server's is a new turn.
    let serverSpoke = true;
    delayed(client, upstream, delayMs, () => {
      if (serverSpoke) turns++;
      serverSpoke = false;
    });
    delayed(upstream, client, delayMs, () => {
      serverSpoke = true;
    });
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', () => setTimeout(() => upstream.destroy(), delayMs + 5));
    upstream.on('close', () => setTimeout(() => client.destroy(), delayMs + 5));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

process.on(
  'message',
  async (m: { type: string; targets?: { host: string; port: number }[]; delayMs?: number }) => {
    if (m.type === 'start') {
      const servers = await Promise.all((m.targets ?? []).map((t) => proxy(t, m.delayMs ?? 0)));
      process.send?.({
        type: 'ready',
        ports: servers.map((s) => (s.address() as { port: number }).port),
      });
    }
    if (m.type === 'count') process.send?.({ type: 'count', connections, turns });
  },
);
