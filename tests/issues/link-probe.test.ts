import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLinkProbe } from '../../src/issues/link-probe.js';
import { testEnv } from '../support/test-env.js';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/ok') res.writeHead(200, { 'content-type': 'text/html' }).end('<p>ok</p>');
    else if (req.url === '/moved') res.writeHead(301, { location: '/ok' }).end();
    else res.writeHead(404).end('missing');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('source link check', () => {
  it('reports the status of each link, following redirects', async () => {
    const probe = createLinkProbe(testEnv());
    expect(await probe(`${base}/ok`)).toEqual({ status: 200 });
    expect(await probe(`${base}/moved`)).toEqual({ status: 200 });
    expect((await probe(`${base}/gone`)).status).toBe(404);
  });

  it('refuses private addresses unless allowed', async () => {
    const probe = createLinkProbe(testEnv({ FETCH_ALLOW_PRIVATE: '' }));
    await expect(probe(`${base}/ok`)).rejects.toThrow();
  });
});
