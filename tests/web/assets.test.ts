import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';

const ASSETS = path.resolve(import.meta.dirname, '../../src/http/admin/assets');
const scripts = readdirSync(ASSETS).filter((f) => f.endsWith('.js'));

// A merge that drops a closing line breaks a whole page's enhancements silently (the browser
// only logs it): every script the admin pages load must at least parse.
describe('the editors’ page scripts', () => {
  it('exist', () => {
    expect(scripts).toContain('subscribers.js');
  });
  it.each(scripts)('%s parses as a script', (file) => {
    expect(() => new Script(readFileSync(path.join(ASSETS, file), 'utf8'), { filename: file })).not.toThrow();
  });
});
