import { createHash } from 'node:crypto';
import type { Db } from '../db/schema.js';

/** Largest logo accepted (the database checks it too): a logo is a few kilobytes. */
export const MAX_LOGO_BYTES = 500 * 1024;

export interface LogoImage {
  contentType: 'image/png' | 'image/jpeg' | 'image/gif';
  ext: 'png' | 'jpg' | 'gif';
  width: number | null;
  height: number | null;
}

/** What the bytes are (by their signature, not the file name) and their pixel size, or null. */
export function sniffLogo(bytes: Buffer): LogoImage | null {
  if (bytes.length >= 24 && bytes.subarray(0, 8).equals(Buffer.from('89504e470d0a1a0a', 'hex'))) {
    return {
      contentType: 'image/png',
      ext: 'png',
      width: bytes.readUInt32BE(16),
      height: bytes.readUInt32BE(20),
    };
  }
  if (bytes.length >= 10 && /^GIF8[79]a$/.test(bytes.subarray(0, 6).toString('latin1'))) {
    return {
      contentType: 'image/gif',
      ext: 'gif',
      width: bytes.readUInt16LE(6),
      height: bytes.readUInt16LE(8),
    };
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    // Walk the segments to the first start-of-frame, which holds the size.
    let at = 2;
    while (at + 9 < bytes.length && bytes[at] === 0xff) {
      const marker = bytes[at + 1] as number;
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return {
          contentType: 'image/jpeg',
          ext: 'jpg',
          width: bytes.readUInt16BE(at + 7),
          height: bytes.readUInt16BE(at + 5),
        };
      }
      at += 2 + bytes.readUInt16BE(at + 2);
    }
    return { contentType: 'image/jpeg', ext: 'jpg', width: null, height: null };
  }
  return null;
}

/** Stores the image (once per content) and returns its path under the app, /brand/<sha256>.<ext>. */
export async function storeLogo(db: Db, bytes: Buffer, image: LogoImage): Promise<string> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await db
    .insertInto('brand_assets')
    .values({ sha256, content_type: image.contentType, bytes })
    .onConflict((oc) => oc.column('sha256').doNothing())
    .execute();
  return `/brand/${sha256}.${image.ext}`;
}

export async function loadLogo(db: Db, sha256: string) {
  return db
    .selectFrom('brand_assets')
    .select(['content_type', 'bytes'])
    .where('sha256', '=', sha256)
    .executeTakeFirst();
}
