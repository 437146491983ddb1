import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A real HTTP server on 127.0.0.1 serving whatever each test routes to it. */

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixture = (name: string): Buffer =>
  readFileSync(path.join(projectRoot, 'tests/fixtures/feeds', name));

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface FixtureServer {
  baseUrl: string;
  port: number;
  routes: Map<string, Handler>;
  hits: Map<string, number>;
  route(path: string, handler: Handler): void;
  close(): Promise<void>;
}

export async function startFixtureServer(host = '127.0.0.1'): Promise<FixtureServer> {
  const routes = new Map<string, Handler>();
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const p = (req.url ?? '/').split('?')[0] as string;
    hits.set(p, (hits.get(p) ?? 0) + 1);
    const handler = routes.get(p);
    if (!handler) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    handler(req, res);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://${host}:${port}`,
    port,
    routes,
    hits,
    route(p, handler) {
      routes.set(p, handler);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const body =
  (content: string | Buffer, contentType: string, extra: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': contentType, ...extra }).end(content);
  };
