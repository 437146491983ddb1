/**
 * The bare client of the send benchmark, in a process of its own: the fastest a Node process can
 * hand messages to the same relays, as the yardstick for the engine. No database, no queue, no
 * rendering: one fixed message of the engine's size, over `connections` connections per relay, with
 * the same protocol shape as nodemailer's pool (PIPELINING: MAIL, RCPT and DATA in one write, then
 * the body after the 354: two round trips per message).
 *
 * Parent → child: { type: 'start', urls, connections, messages, bytes }.
 * Child → parent: { type: 'done', messages, seconds, cpuMs }.
 */
import { connect, type Socket } from 'node:net';

interface Start {
  urls: string[];
  connections: number;
  messages: number;
  bytes: number;
}

function body(size: number): Buffer {
  const head =
    'From: bench@example.org\r\nTo: reader@example.net\r\nSubject: bench\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=us-ascii\r\n\r\n';
  const line = `${'x'.repeat(76)}\r\n`;
  const lines = Math.max(1, Math.ceil((size - head.length) / line.length));
  return Buffer.from(`${head}${line.repeat(lines)}.\r\n`);
}

/** Replies as they complete ("250 ok", the last line of a multi-line one). */
function replies(socket: Socket): () => Promise<string> {
  let buf = '';
  const ready: string[] = [];
  const waiting: ((s: string) => void)[] = [];
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    let i = buf.indexOf('\r\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (/^\d{3}(?: |$)/.test(line)) {
        const w = waiting.shift();
        if (w) w(line);
        else ready.push(line);
      }
      i = buf.indexOf('\r\n');
    }
  });
  return () => {
    const r = ready.shift();
    if (r !== undefined) return Promise.resolve(r);
    return new Promise((ok) => waiting.push(ok));
  };
}

async function session(url: string, take: () => number | null, message: Buffer): Promise<number> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  socket.setNoDelay(true);
  socket.on('error', (err) => {
    throw err;
  });
  const next = replies(socket);
  const expect = async (code: string) => {
    const r = await next();
    if (!r.startsWith(code)) throw new Error(`bare client: expected ${code}, got "${r}"`);
  };
  await expect('220');
  socket.write('EHLO bench.example.org\r\n');
  await expect('250');
  let sent = 0;
  for (let i = take(); i !== null; i = take()) {
    socket.write(
      `MAIL FROM:<bounce+bare${i}@bounces.example.org>\r\nRCPT TO:<reader${i}@example.net>\r\nDATA\r\n`,
    );
    await expect('250');
    await expect('250');
    await expect('354');
    socket.write(message);
    await expect('250');
    sent++;
  }
  socket.end('QUIT\r\n');
  return sent;
}

process.on('message', async (m: { type: string } & Start) => {
  if (m.type !== 'start') return;
  const message = body(m.bytes);
  let left = m.messages;
  let n = 0;
  const take = () => (left-- > 0 ? n++ : null);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sent = await Promise.all(
    m.urls.flatMap((url) => Array.from({ length: m.connections }, () => session(url, take, message))),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  process.send?.({
    type: 'done',
    messages: sent.reduce((a, b) => a + b, 0),
    seconds,
    cpuMs: (cpu.user + cpu.system) / 1000,
  });
});
process.send?.({ type: 'ready' });
