import { describe, expect, it } from 'vitest';
import { escapeHtml } from '../../src/rendering/escape.js';
import {
  clickUrl,
  isTrackableUrl,
  openPixelHtml,
  rewriteLinksForTracking,
  trackableUrls,
  trackingEnabledFor,
} from '../../src/tracking/links.js';
import { detectMailProxy } from '../../src/tracking/proxy.js';

const PUBLIC = 'https://news.example.org';

const html = `<html><body>
<a href="https://www.cac.gov.cn/2025-07/10/c_1.htm" style="color:#1f4e79">工信领域</a>
<a class="x" href='https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32024R1689&amp;from=EN'>EU AI Act</a>
<a href="https://www.cac.gov.cn/2025-07/10/c_1.htm">again</a>
<a href="mailto:editor@example.org">mail us</a>
<a href="tel:+862112345678">call</a>
<a href="#toc">contents</a>
<a href="{{unsubscribeUrl}}">退订</a>
<a href="https://news.example.org/preferences/abc.def">preferences</a>
<a href="https://news.example.org/archive/2025-07">archive</a>
<a name="anchor-only">no href</a>
</body></html>`;

describe('tracking links', () => {
  it('collects only http(s) links that are not Gazette’s own token pages, once each, decoded', () => {
    expect(trackableUrls(html, PUBLIC)).toEqual([
      'https://www.cac.gov.cn/2025-07/10/c_1.htm',
      'https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32024R1689&from=EN',
      'https://news.example.org/archive/2025-07',
    ]);
  });

  it('reads hrefs as a browser does: every entity the content escaper writes is decoded', () => {
    const urls = [
      'https://mp.weixin.qq.com/s?__biz=MzA5&mid=2650&idx=1&sn=ab12&scene=25#wechat_redirect',
      'https://baijiahao.baidu.com/s?id=1838&wfr=spider&for=pc',
      'https://www.autoriteitpersoonsgegevens.nl/actueel/ap-ai-en-algoritmes#:~:text=AI%20en%20algoritmes',
      "https://example.org/a'b`c?x={1}&y=\\z",
    ];
    const page = urls.map((u) => `<a href="${escapeHtml(u)}">x</a>`).join('');
    expect(page).toContain('&#61;');
    expect(trackableUrls(page, PUBLIC)).toEqual(urls);
    const named = '<a href="https://example.org/?a=1&amp;copy=2&lang;&#x3D;3">x</a>';
    expect(trackableUrls(named, PUBLIC)).toEqual(['https://example.org/?a=1&copy=2\u27e8=3']);
  });

  it('rewrites each trackable href to the click redirect with the tracking token placeholder', () => {
    const ids = new Map([
      ['https://www.cac.gov.cn/2025-07/10/c_1.htm', 11],
      ['https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32024R1689&from=EN', 12],
    ]);
    const out = rewriteLinksForTracking(html, {
      issueId: 1,
      publicUrl: `${PUBLIC}/`,
      linkIdFor: (u) => ids.get(u),
    });
    expect(out.match(/\/t\/c\/\{\{trackingToken\}\}\/11"/g)).toHaveLength(2);
    expect(out).toContain(`<a class="x" href="${PUBLIC}/t/c/{{trackingToken}}/12">EU AI Act</a>`);
    expect(out).toContain('style="color:#1f4e79"');
    expect(out).toContain('href="mailto:editor@example.org"');
    expect(out).toContain('href="{{unsubscribeUrl}}"');
    expect(out).toContain('href="https://news.example.org/preferences/abc.def"');
    // No id → the link stays as it was rather than pointing at nothing.
    expect(out).toContain('href="https://news.example.org/archive/2025-07"');
  });

  it('builds the pixel and click URLs under the public URL', () => {
    expect(openPixelHtml(PUBLIC)).toContain(`src="${PUBLIC}/t/o/{{trackingToken}}.gif"`);
    expect(clickUrl(`${PUBLIC}/`, 7, 'TOKEN')).toBe(`${PUBLIC}/t/c/TOKEN/7`);
  });

  it('does not track javascript: or relative links', () => {
    expect(isTrackableUrl('javascript:alert(1)', PUBLIC)).toBe(false);
    expect(isTrackableUrl('/relative', PUBLIC)).toBe(false);
    expect(isTrackableUrl('https://news.example.org/u/tok', PUBLIC)).toBe(false);
  });

  it('lets the issue override the publication switch, null inheriting it', () => {
    expect(trackingEnabledFor({ tracking_enabled: true }, { tracking_enabled: null })).toBe(true);
    expect(trackingEnabledFor({ tracking_enabled: false }, { tracking_enabled: null })).toBe(false);
    expect(trackingEnabledFor({ tracking_enabled: true }, { tracking_enabled: false })).toBe(false);
    expect(trackingEnabledFor({ tracking_enabled: false }, { tracking_enabled: true })).toBe(true);
  });
});

describe('mail privacy proxies', () => {
  it('flags Google’s and Yahoo’s image proxies by user agent', () => {
    expect(
      detectMailProxy(
        'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
        '66.249.84.1',
      ),
    ).toBe('google-image-proxy');
    expect(
      detectMailProxy(
        'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html',
        '98.137.1.1',
      ),
    ).toBe('yahoo-mail-proxy');
  });

  it('flags Apple Mail Privacy Protection by its bare agent from Apple’s network, not a browser there', () => {
    expect(detectMailProxy('Mozilla/5.0', '17.58.100.3')).toBe('apple-mpp');
    expect(detectMailProxy('Mozilla/5.0', '::ffff:17.58.100.3')).toBe('apple-mpp');
    expect(detectMailProxy('Mozilla/5.0', '203.0.113.9')).toBeUndefined();
    expect(
      detectMailProxy('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15', '17.58.100.3'),
    ).toBeUndefined();
  });
});
