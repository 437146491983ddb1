import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import {
  charsetFromBytePattern,
  charsetNotes,
  decodeBody,
  looksLikeGb2312,
} from '../../src/feeds/charset.js';

/** Which charset wins when labels and bytes disagree, and what is recorded when a label loses. */
describe('charsets the labels get wrong', () => {
  const xml = '<?xml version="1.0" encoding="UTF-16"?><rss/>';

  it('reads UTF-16 and UTF-32 without a byte-order mark from the first bytes (XML appendix F)', () => {
    expect(charsetFromBytePattern(iconv.encode(xml, 'utf-16le'))).toBe('utf-16le');
    expect(charsetFromBytePattern(iconv.encode(xml, 'utf-16be'))).toBe('utf-16be');
    expect(charsetFromBytePattern(iconv.encode(xml, 'utf-32le'))).toBe('utf-32le');
    expect(charsetFromBytePattern(iconv.encode(xml, 'utf-32be'))).toBe('utf-32be');
    expect(charsetFromBytePattern(Buffer.from(xml))).toBeNull();
    // The pattern beats a header that says otherwise: no ASCII-compatible document starts with NUL.
    expect(decodeBody(iconv.encode(xml, 'utf-16be'), 'text/xml; charset=utf-8')).toMatchObject({
      text: xml,
      from: 'pattern',
    });
  });

  it('takes runs of GB2312 pairs for Chinese, but not the accented letters of Western text', () => {
    expect(looksLikeGb2312(iconv.encode('<t>判决</t>', 'gbk'))).toBe(true);
    expect(looksLikeGb2312(iconv.encode('<t>Größe und Maße</t>', 'latin1'))).toBe(false);
    expect(looksLikeGb2312(iconv.encode('<t>café résumé</t>', 'latin1'))).toBe(false);
  });

  it('records a declared charset that lost, where it was declared and why', () => {
    const decoded = decodeBody(
      Buffer.from('<rss><channel><title>律师</title></channel></rss>'),
      'text/xml; charset=gbk',
    );
    expect(decoded).toMatchObject({
      charset: 'utf-8',
      from: 'detected',
      overruled: { charset: 'gb18030', from: 'header', reason: 'valid-utf8' },
    });
    expect(charsetNotes(decoded)).toEqual([
      {
        code: 'charset-overruled',
        params: { declared: 'gb18030', from: 'header', reason: 'valid-utf8', used: 'utf-8' },
      },
    ]);
    expect(charsetNotes(decodeBody(Buffer.from('<rss/>'), 'text/xml; charset=utf-8'))).toEqual([]);
  });

  it('does not believe a UTF-16 label on bytes without the UTF-16 pattern', () => {
    const decoded = decodeBody(
      Buffer.from('<?xml version="1.0" encoding="utf-16"?><rss><channel><title>法院</title></channel></rss>'),
    );
    expect(decoded).toMatchObject({ charset: 'utf-8', overruled: { charset: 'utf-16', from: 'document' } });
    expect(decoded.text).toContain('法院');
  });
});
