import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEMO_FEEDS, renderDemoFeed } from './fixtures.js';

export interface FeedServer {
  baseUrl: string;
  close(): Promise<void>;
}

/** A real HTTP server on loopback serving the demo's fixture feeds and a page per article. */
export async function startDemoFeedServer(): Promise<FeedServer> {
  let baseUrl = '';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const feed = DEMO_FEEDS.find((f) => f.path === path);
    if (feed) {
      const { body, contentType } = renderDemoFeed(feed, baseUrl);
      res.writeHead(200, { 'content-type': contentType, etag: `"${feed.entries.length}-${feed.format}"` });
      res.end(body);
      return;
    }
    const slug = path?.startsWith('/articles/') ? path.slice('/articles/'.length) : undefined;
    const entry = DEMO_FEEDS.flatMap((f) => f.entries).find((e) => e.slug === slug);
    if (entry) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>${entry.title}</title><p>${entry.summary}</p></html>`,
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
