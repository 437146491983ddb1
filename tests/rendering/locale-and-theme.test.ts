import * as cheerio from 'cheerio';
import { describe, expect, it } from 'vitest';
import { compileVariant, recipientName } from '../../src/rendering/index.js';
import { formatPeriod, itemNumber, sectionNumber } from '../../src/rendering/locale-format.js';
import { buildTheme, contrastRatio } from '../../src/rendering/theme.js';
import { hostileIssue, PUBLIC_URL } from './fixtures.js';

describe('locale helpers', () => {
  it('formats months and weeks in the issue locale', () => {
    expect(formatPeriod('2025-07', 'month', 'zh-CN')).toBe('2025年7月');
    expect(formatPeriod('2025-07', 'month', 'en')).toBe('July 2025');
    expect(formatPeriod('2025-W27', 'week', 'zh-CN')).toBe('2025年第27周');
    expect(formatPeriod('2025-W27', 'week', 'en')).toBe('Week 27, 2025');
    expect(formatPeriod('summer', 'month', 'en')).toBe('summer');
  });

  it('numbers sections in Chinese numerals for Chinese and digits for English', () => {
    expect([0, 3, 9, 10, 19].map((i) => sectionNumber(i, 'zh-CN'))).toEqual([
      '一、',
      '四、',
      '十、',
      '十一、',
      '20、',
    ]);
    expect(sectionNumber(1, 'en')).toBe('2. ');
    expect(itemNumber(10)).toBe('11. ');
  });

  it('fills the name token with the locale word for reader when a subscriber has no name', () => {
    expect(recipientName(null, 'zh-CN')).toBe('读者');
    expect(recipientName('  ', 'en')).toBe('reader');
    expect(recipientName(' 张律师 ', 'zh-CN')).toBe('张律师');
  });
});

describe('branding and accessibility', () => {
  it('takes colours from branding, refuses values that are not colours, and warns on low contrast', () => {
    const warnings: string[] = [];
    const theme = buildTheme(
      { primaryColor: '#ffee00', accentColor: 'red;background:url(x)', fontFamily: 'Brand Sans' },
      'en',
      warnings,
    );
    expect(theme.primary).toBe('#ffee00');
    expect(theme.link).toBe('#ffee00');
    expect(theme.fontFamily.startsWith('Brand Sans,')).toBe(true);
    expect(warnings.some((w) => w.includes('accentColor') && w.includes('not a #rgb'))).toBe(true);
    expect(warnings.some((w) => w.includes('primaryColor #ffee00') && w.includes('contrast'))).toBe(true);
  });

  it('uses default colours that meet WCAG AA contrast in light and dark mode', () => {
    const t = buildTheme({}, 'zh-CN', []);
    for (const fg of [t.text, t.primary, t.link, t.muted])
      expect(contrastRatio(fg, t.background)).toBeGreaterThan(4.5);
    for (const fg of [t.darkText, t.darkLink, t.darkMuted])
      expect(contrastRatio(fg, t.darkBackground)).toBeGreaterThan(4.5);
  });

  it('gives every image alt text and shows the logo from branding', async () => {
    const v = await compileVariant(hostileIssue(), {
      sectionKeys: ['alpha'],
      locale: 'en',
      publicUrl: PUBLIC_URL,
    });
    const $ = cheerio.load(v.html);
    const imgs = $('img');
    expect(imgs.length).toBe(2);
    imgs.each((_, el) => {
      expect($(el).attr('alt')).toBeDefined();
    });
    expect($('img[src="https://cdn.example.org/logo.png"]').attr('alt')).toBe('Logo "x"');
    expect($('html').attr('lang')).toBe('en');
    expect($('h1').parent().attr('style')).toContain("font-family:-apple-system,'Segoe UI'");
    expect($('h1').parent().attr('style')).toContain('line-height:1.6');
  });
});
