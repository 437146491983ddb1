import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decodeBody } from '../../../../feeds/charset.js';

/** The committee's document is about 60 KB; anything past this is not one. */
export const MAX_IMPORT_BYTES = 2 * 1024 * 1024;
/** The whole form may carry the file and the pasted text, both at the limit, plus the fields. */
const MAX_FORM_BYTES = 2 * MAX_IMPORT_BYTES + 64 * 1024;

/** A parsed import form: its text fields, and the uploaded file if one was chosen. */
export interface ImportForm {
  [field: string]: string | { name: string; data: Buffer } | undefined;
  file?: { name: string; data: Buffer };
}

/**
 * Parses multipart/form-data whole in the content-type parser, so `_csrf` is on req.body when
 * the access guard checks it (a preValidation hook on the root): the upload then works as a
 * plain HTML form, without scripts. (@fastify/multipart fills the body in a preValidation hook
 * of its own context, which runs after the root's, so a plain form would be refused as forged.)
 * Registered only inside the issue pages' plugin context; the platform's multipart reader
 * (undici's Response.formData) does the parsing, bounded by MAX_FORM_BYTES.
 */
export function acceptImportUploads(
  app: FastifyInstance,
  opts: { fileField?: string; maxFormBytes?: number } = {},
): void {
  const fileField = opts.fileField ?? 'file';
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer', bodyLimit: opts.maxFormBytes ?? MAX_FORM_BYTES },
    async (req: FastifyRequest, body: Buffer) => {
      let form: FormData;
      try {
        const bytes = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
        form = await new Response(bytes, {
          headers: { 'content-type': req.headers['content-type'] ?? '' },
        }).formData();
      } catch {
        throw Object.assign(new Error('the upload is not a readable multipart form'), { statusCode: 400 });
      }
      const out: ImportForm = {};
      const entries: [string, FormDataEntryValue][] = [];
      form.forEach((value, name) => {
        entries.push([name, value]);
      });
      for (const [name, value] of entries) {
        if (typeof value === 'string') out[name] = value;
        // A file input left empty still sends a part, with no name and no bytes.
        else if (name === fileField && value.size > 0)
          out.file = { name: value.name, data: Buffer.from(await value.arrayBuffer()) };
      }
      return out;
    },
  );
}

/**
 * The uploaded document as text: UTF-8 when it is valid UTF-8, else what the feeds' charset
 * detection finds (a Word export saved on a Chinese Windows machine is often GB18030).
 */
export function uploadedText(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    return decodeBody(bytes).text;
  }
}
