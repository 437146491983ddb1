import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { exportSubscribersCsv, importSubscribersCsv } from '../subscribers/api.js';

/**
 * CSV import and export throughput against PostgreSQL (DATABASE_URL or the local test database),
 * in a throwaway schema, then the latency of /healthz answered by this process while it imports
 * a file of invalid rows (the case that never waits on the database), polled from a child process.
 * Flags: --rows N (default 100000), --batch N (default 1000).
 */
export async function run(args: string[]): Promise<object> {
  const flag = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const rows = flag('rows', 100_000);
  const batchSize = flag('batch', 1000);
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  // Kysely's migrator looks for its tables in every schema; make ours first (see tests/http/support.ts).
  await admin.query(
    `CREATE TABLE ${schema}.kysely_migration (name varchar(255) PRIMARY KEY, timestamp varchar(255) NOT NULL)`,
  );
  await admin.query(
    `CREATE TABLE ${schema}.kysely_migration_lock (id varchar(255) PRIMARY KEY, is_locked integer NOT NULL DEFAULT 0)`,
  );
  const handle = await openDatabase({ databaseUrl: url, dataDir: '/nonexistent', schema, poolSize: 4 });
  const dir = mkdtempSync(join(tmpdir(), 'gazette-bench-'));
  try {
    await migrateToLatest(handle.db);
    for (const [i, key] of [
      'domestic-regulation',
      'foreign-regulation',
      'case-studies',
      'industry-news',
    ].entries()) {
      await handle.db
        .insertInto('sections')
        .values({ key, position: i, names: JSON.stringify({ en: key }) })
        .execute();
    }
    const file = join(dir, 'in.csv');
    const out = createWriteStream(file);
    out.write('email,name,locale,topics\n');
    for (let i = 0; i < rows; i++) {
      if (
        !out.write(
          `reader${i}@example.com,读者${i},${i % 2 ? 'en' : 'zh-CN'},${i % 3 ? '' : 'case-studies;industry-news'}\n`,
        )
      )
        await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    process.stderr.write(`importing ${rows} rows…\n`);
    let t = performance.now();
    const first = await importSubscribersCsv(handle.db, file, { batchSize });
    const importMs = performance.now() - t;
    process.stderr.write(`re-importing (all updates)…\n`);
    t = performance.now();
    const second = await importSubscribersCsv(handle.db, file, { batchSize });
    const reimportMs = performance.now() - t;
    t = performance.now();
    const sink = createWriteStream(join(dir, 'out.csv'));
    const exported = await exportSubscribersCsv(handle.db, sink);
    const exportMs = performance.now() - t;
    const invalidFile = join(dir, 'invalid.csv');
    const bad = createWriteStream(invalidFile);
    bad.write('email,name\n');
    for (let i = 0; i < rows; i++) if (!bad.write(`reader${i}-at-example.com,x\n`)) await once(bad, 'drain');
    bad.end();
    await once(bad, 'finish');
    process.stderr.write(`importing ${rows} invalid rows while polling /healthz…\n`);
    const healthz = await duringImport(() =>
      importSubscribersCsv(handle.db, invalidFile, { batchSize, maxProblemsKept: 1000 }),
    );
    const heapMb = Math.round(process.memoryUsage().heapUsed / 1e6);
    return {
      rows,
      batchSize,
      import: {
        ms: Math.round(importMs),
        rowsPerSecond: Math.round(rows / (importMs / 1000)),
        added: first.added,
      },
      reimport: {
        ms: Math.round(reimportMs),
        rowsPerSecond: Math.round(rows / (reimportMs / 1000)),
        updated: second.updated,
      },
      healthzDuringInvalidImport: healthz,
      export: { ms: Math.round(exportMs), rowsPerSecond: Math.round(exported / (exportMs / 1000)) },
      heapUsedMbAtEnd: heapMb,
    };
  } finally {
    await handle.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls /healthz of a server in this process from a child process while `work` runs. */
async function duringImport(work: () => Promise<{ invalid: number }>) {
  const server = createServer((_req, res) => res.end('{"status":"ok"}'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const poller = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const l=[];let go=true;process.stdin.on('end',()=>{go=false});process.stdin.resume();
       while(go){const t=performance.now();await fetch('http://127.0.0.1:${port}/healthz').then(r=>r.text());
       l.push(performance.now()-t);await new Promise(r=>setTimeout(r,10));}
       process.stdout.write(JSON.stringify(l));`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  poller.stdout.on('data', (d) => {
    out += d;
  });
  await new Promise((r) => setTimeout(r, 200));
  const t = performance.now();
  const summary = await work();
  const ms = performance.now() - t;
  poller.stdin.end();
  await once(poller, 'exit');
  server.close();
  const l = (JSON.parse(out || '[]') as number[]).sort((a, b) => a - b);
  const pct = (p: number) => Math.round(l[Math.min(l.length - 1, Math.floor((p / 100) * l.length))] ?? 0);
  return {
    importMs: Math.round(ms),
    invalid: summary.invalid,
    polls: l.length,
    p50Ms: pct(50),
    p99Ms: pct(99),
    maxMs: Math.round(l[l.length - 1] ?? 0),
  };
}
