import { brotliCompressSync, gzipSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkUrlTarget, decideAddress, privatePolicy } from '../../src/feeds/address-guard.js';
import { decodeBody } from '../../src/feeds/charset.js';
import { closeFetchAgents, FetchError, type FetchLimits, fetchWithLimits } from '../../src/feeds/fetch.js';
import { parseFeed } from '../../src/feeds/parse.js';
import { body, type FixtureServer, fixture, startFixtureServer } from './fixture-server.js';

const LOOPBACK_ONLY = privatePolicy(['127.0.0.1']);

function limits(overrides: Partial<FetchLimits> = {}): FetchLimits {
  return {
    timeoutMs: 2000,
    maxBytes: 64 * 1024,
    maxRedirects: 3,
    userAgent: 'Gazette/test (+http://localhost)',
    policy: LOOPBACK_ONLY,
    ...overrides,
  };
}

async function fetchError(p: Promise<unknown>): Promise<FetchError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FetchError) return err;
    throw err;
  }
  throw new Error('expected the fetch to fail');
}

describe('the address guard (pure decision)', () => {
  it('refuses private, loopback, link-local, metadata and unspecified addresses by default', () => {
    const none = privatePolicy([]);
    for (const address of [
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '127.0.0.1',
      '169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
      '::1',
      'fd00:ec2::254',
      'fe80::1',
      '::ffff:10.0.0.1',
    ]) {
      expect(decideAddress(address, none).allowed, address).toBe(false);
    }
    expect(decideAddress('169.254.169.254', none).reason).toMatch(/link-local/);
  });

  it.each([
    '::127.0.0.1',
    '[::127.0.0.1]',
    '::7f00:1',
    '::10.0.0.1',
    '::a9fe:a9fe',
    '::ffff:7f00:1',
    '0:0:0:0:0:ffff:169.254.169.254',
    '::ffff:0:127.0.0.1',
    '::ffff:0:a00:1',
  ])('judges %s, an IPv4 address in IPv6 form, as that IPv4 address', (address) => {
    const decision = decideAddress(address, privatePolicy([]));
    expect(decision.allowed).toBe(false);
    expect(['loopback', 'private', 'linkLocal']).toContain(decision.range);
  });

  it('refuses a URL whose host is [::127.0.0.1] before connecting', () => {
    const url = new URL('http://[::127.0.0.1]:8080/feed.xml');
    expect(url.hostname).toBe('[::7f00:1]');
    expect(() => checkUrlTarget(url, privatePolicy([]))).toThrow(/loopback/);
    expect(() => checkUrlTarget(url, privatePolicy(['127.0.0.1']))).not.toThrow();
  });

  it('allows public unicast addresses', () => {
    expect(decideAddress('93.184.216.34', privatePolicy([])).allowed).toBe(true);
    expect(decideAddress('2606:4700::1111', privatePolicy([])).allowed).toBe(true);
  });

  it('allows exactly what FETCH_ALLOW_PRIVATE names: addresses, CIDR ranges and host names', () => {
    const policy = privatePolicy(['127.0.0.1', '10.1.0.0/16', 'intranet.local']);
    expect(decideAddress('127.0.0.1', policy).allowed).toBe(true);
    expect(decideAddress('127.0.0.2', policy).allowed).toBe(false);
    expect(decideAddress('10.1.200.3', policy).allowed).toBe(true);
    expect(decideAddress('10.2.0.1', policy).allowed).toBe(false);
    expect(decideAddress('192.168.0.9', policy, 'intranet.local').allowed).toBe(true);
    expect(decideAddress('169.254.169.254', policy, 'metadata.google.internal').allowed).toBe(false);
  });

  it("allows anything when the source's allow_private is set", () => {
    expect(decideAddress('10.0.0.1', privatePolicy([], true)).allowed).toBe(true);
  });
});

describe('fetching with limits from a local server', () => {
  let server: FixtureServer;
  let seenHeaders: Record<string, string | string[] | undefined> = {};

  beforeAll(async () => {
    server = await startFixtureServer();
    server.route('/rss2.xml', (req, res) => {
      seenHeaders = req.headers;
      res.writeHead(200, { 'content-type': 'application/rss+xml; charset=utf-8' }).end(fixture('rss2.xml'));
    });
    server.route(
      '/gzip.xml',
      body(gzipSync(fixture('atom.xml')), 'application/atom+xml', { 'content-encoding': 'gzip' }),
    );
    server.route(
      '/br.json',
      body(brotliCompressSync(fixture('jsonfeed-1.1.json')), 'application/feed+json', {
        'content-encoding': 'br',
      }),
    );
    server.route('/conditional.xml', (req, res) => {
      if (
        req.headers['if-none-match'] === '"v1"' ||
        req.headers['if-modified-since'] === 'Tue, 08 Jul 2025 02:00:00 GMT'
      ) {
        res.writeHead(304).end();
        return;
      }
      res
        .writeHead(200, {
          'content-type': 'text/xml',
          etag: '"v1"',
          'last-modified': 'Tue, 08 Jul 2025 02:00:00 GMT',
        })
        .end(fixture('rss2.xml'));
    });
    server.route('/slow.xml', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.write('<?xml version="1.0"?><rss version="2.0">');
      // Never finishes within the deadline; closed when the server stops.
    });
    server.route('/huge.xml', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' });
      const chunk = Buffer.alloc(16 * 1024, 'a');
      let sent = 0;
      const push = () => {
        while (sent < 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', push);
        }
        res.end();
      };
      push();
    });
    server.route('/huge-declared.xml', body(Buffer.alloc(200 * 1024, 'a'), 'text/xml'));
    server.route(
      '/gzip-bomb.xml',
      body(gzipSync(Buffer.alloc(4 * 1024 * 1024, 'a')), 'text/xml', { 'content-encoding': 'gzip' }),
    );
    server.route('/moved', (_req, res) => res.writeHead(301, { location: '/rss2.xml' }).end());
    server.route('/loop', (_req, res) => res.writeHead(302, { location: '/loop' }).end());
    server.route('/to-metadata', (_req, res) =>
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
    );
    server.route('/to-other-loopback', (_req, res) =>
      res.writeHead(302, { location: `http://127.0.0.2:${server.port}/rss2.xml` }).end(),
    );
    server.route('/gone', (_req, res) => res.writeHead(410).end('gone'));
  });

  afterAll(async () => {
    await server.close();
    await closeFetchAgents();
  });

  it('sends a descriptive User-Agent, Accept and Accept-Encoding', async () => {
    const res = await fetchWithLimits(`${server.baseUrl}/rss2.xml`, limits());
    expect(res.status).toBe(200);
    expect(seenHeaders['user-agent']).toBe('Gazette/test (+http://localhost)');
    expect(seenHeaders['accept-encoding']).toContain('gzip');
    expect(seenHeaders.accept).toContain('application/rss+xml');
  });

  it('decompresses gzip and brotli bodies', async () => {
    const atom = await fetchWithLimits(`${server.baseUrl}/gzip.xml`, limits());
    expect(atom.body.toString('utf8')).toContain('<feed');
    const json = await fetchWithLimits(`${server.baseUrl}/br.json`, limits());
    expect(JSON.parse(json.body.toString('utf8')).version).toBe('https://jsonfeed.org/version/1.1');
  });

  it('gets a 304 with no body when the ETag or Last-Modified still matches', async () => {
    const first = await fetchWithLimits(`${server.baseUrl}/conditional.xml`, limits());
    expect(first.headers.etag).toBe('"v1"');
    const byEtag = await fetchWithLimits(`${server.baseUrl}/conditional.xml`, limits(), { etag: '"v1"' });
    expect(byEtag).toMatchObject({ status: 304, notModified: true });
    expect(byEtag.body.length).toBe(0);
    const byDate = await fetchWithLimits(`${server.baseUrl}/conditional.xml`, limits(), {
      lastModified: first.headers['last-modified'] ?? null,
    });
    expect(byDate.notModified).toBe(true);
  });

  it('gives up on a response that does not finish within the timeout', async () => {
    const err = await fetchError(fetchWithLimits(`${server.baseUrl}/slow.xml`, limits({ timeoutMs: 300 })));
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/within 300 ms/);
  });

  it('stops reading a response over the size limit, declared or streamed, compressed or not', async () => {
    for (const p of ['/huge.xml', '/huge-declared.xml', '/gzip-bomb.xml']) {
      const err = await fetchError(fetchWithLimits(`${server.baseUrl}${p}`, limits()));
      expect(err.kind, p).toBe('too-large');
    }
  });

  it('follows redirects up to the limit, and no further', async () => {
    const moved = await fetchWithLimits(`${server.baseUrl}/moved`, limits());
    expect(moved.url).toBe(`${server.baseUrl}/rss2.xml`);
    const err = await fetchError(fetchWithLimits(`${server.baseUrl}/loop`, limits()));
    expect(err.kind).toBe('too-many-redirects');
  });

  it('refuses a redirect to a metadata address, even though the first hop was allowed', async () => {
    const err = await fetchError(fetchWithLimits(`${server.baseUrl}/to-metadata`, limits()));
    expect(err.kind).toBe('blocked');
    expect(err.message).toMatch(/169\.254\.169\.254/);
  });

  it('refuses a redirect to a loopback address that is not the one allowed', async () => {
    const err = await fetchError(fetchWithLimits(`${server.baseUrl}/to-other-loopback`, limits()));
    expect(err.kind).toBe('blocked');
    expect(server.hits.get('/rss2.xml') ?? 0).toBeGreaterThan(0); // only earlier, allowed fetches
  });

  it('checks the addresses a host name resolves to at connect time, and allows a host by name', async () => {
    // "localhost" is no IP literal: only the connect-time DNS check can refuse it.
    const err = await fetchError(
      fetchWithLimits(`http://localhost:${server.port}/rss2.xml`, limits({ policy: privatePolicy([]) })),
    );
    expect(err.kind).toBe('blocked');
    const allowedByName = await fetchWithLimits(
      `http://localhost:${server.port}/rss2.xml`,
      limits({ policy: privatePolicy(['localhost']) }),
    );
    expect(allowedByName.status).toBe(200);
  });

  it('refuses loopback entirely when nothing allows it', async () => {
    const err = await fetchError(
      fetchWithLimits(`${server.baseUrl}/rss2.xml`, limits({ policy: privatePolicy([]) })),
    );
    expect(err.kind).toBe('blocked');
  });

  it('reports an HTTP error status with the code', async () => {
    const err = await fetchError(fetchWithLimits(`${server.baseUrl}/gone`, limits()));
    expect(err).toMatchObject({ kind: 'http', status: 410 });
  });
});

describe('charset decoding of Chinese feeds', () => {
  const TITLE = '某市人民政府信息公开';
  const ITEM = '关于进一步规范人工智能生成内容标识工作的通知';
  const BODY = '各区人民政府、市政府各委、办、局：现将有关事项通知如下。';
  const TW_ITEM = '數位發展部發布人工智慧基本法草案說明';
  const TW_BODY = '行政院會議通過人工智慧基本法草案，將送立法院審議。';

  const feedText = (encoding: string, item = ITEM, text = BODY) =>
    fixture('zh-gov.xml')
      .toString('utf8')
      .replace('@ENCODING@', encoding)
      .replace('@TITLE@', TITLE)
      .replace('@ITEM@', item)
      .replace('@BODY@', text);
  /** Drops the prolog's encoding, as many servers do. */
  const undeclared = (s: string) => s.replace(/ encoding="[^"]*"/, '');

  it('decodes GBK declared in the XML prolog', async () => {
    const bytes = iconv.encode(feedText('GBK'), 'gbk');
    const decoded = decodeBody(bytes, 'text/xml');
    expect(decoded).toMatchObject({ charset: 'gb18030', from: 'document' });
    const feed = await parseFeed(decoded.text);
    expect(feed.title).toBe(TITLE);
    expect(feed.items[0]).toMatchObject({ title: ITEM, summaryText: BODY });
  });

  it('decodes GB18030 declared in the HTTP header, even when the prolog says UTF-8', async () => {
    const bytes = iconv.encode(feedText('utf-8', `${ITEM}𠮷`), 'gb18030');
    const decoded = decodeBody(bytes, 'application/rss+xml; charset=GB18030');
    expect(decoded.from).toBe('header');
    expect((await parseFeed(decoded.text)).items[0]?.title).toBe(`${ITEM}𠮷`);
  });

  it('does not believe a UTF-8 header on bytes that are GBK', async () => {
    const bytes = iconv.encode(feedText('gb2312'), 'gbk');
    const decoded = decodeBody(bytes, 'text/xml; charset=utf-8');
    expect(decoded.charset).toBe('gb18030');
    expect(decoded.text).toContain(ITEM);
  });

  it('detects GBK with no charset declared anywhere', async () => {
    const bytes = iconv.encode(undeclared(feedText('x')), 'gbk');
    const decoded = decodeBody(bytes, 'text/xml');
    expect(decoded).toMatchObject({ charset: 'gb18030', from: 'detected' });
    expect((await parseFeed(decoded.text)).items[0]?.summaryText).toBe(BODY);
  });

  it('decodes Big5, declared and undeclared', async () => {
    const declared = decodeBody(iconv.encode(feedText('Big5', TW_ITEM, TW_BODY), 'big5'), 'text/xml');
    expect(declared).toMatchObject({ charset: 'big5', from: 'document' });
    expect((await parseFeed(declared.text)).items[0]?.title).toBe(TW_ITEM);
    const detected = decodeBody(iconv.encode(undeclared(feedText('x', TW_ITEM, TW_BODY)), 'big5'), undefined);
    expect(detected).toMatchObject({ charset: 'big5', from: 'detected' });
    expect((await parseFeed(detected.text)).items[0]?.summaryText).toBe(TW_BODY);
  });

  it('honours a byte-order mark and trusts the document over a default ISO-8859-1 header', () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(feedText('gbk'), 'utf8')]);
    expect(decodeBody(bom, 'text/xml; charset=gbk')).toMatchObject({ charset: 'utf-8', from: 'bom' });
    const latin = decodeBody(iconv.encode(feedText('GBK'), 'gbk'), 'text/xml; charset=ISO-8859-1');
    expect(latin.text).toContain(ITEM);
  });
});
