import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Largest CSV an editor may upload: about 200,000 subscribers at 100 bytes a row. */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

export interface UploadBody {
  /** Every text field of the form (the CSRF token `_csrf` among them). */
  [field: string]: unknown;
  /** The uploaded files by field name. */
  files: Record<string, { name: string; type: string; data: Buffer }>;
}

/**
 * Parses multipart/form-data completely in the content-type parser, so the text fields are on
 * req.body before the access guard's CSRF check (a preValidation hook on the root). Why not
 * @fastify/multipart: it fills req.body in a preValidation hook of its own context, which runs
 * after the root's, so a plain HTML form would always be refused as forged. The body is bounded
 * by MAX_UPLOAD_BYTES and parsed by the platform's multipart reader (undici's Response.formData).
 * Registered only inside the plugin context of the upload routes.
 */
export function acceptUploads(app: FastifyInstance): void {
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer', bodyLimit: MAX_UPLOAD_BYTES },
    async (req: FastifyRequest, body: Buffer) => {
      const type = req.headers['content-type'] ?? '';
      let form: FormData;
      try {
        const bytes = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
        form = await new Response(bytes, { headers: { 'content-type': type } }).formData();
      } catch {
        throw Object.assign(new Error('the upload is not a readable multipart form'), { statusCode: 400 });
      }
      const out: UploadBody = { files: {} };
      const entries: [string, FormDataEntryValue][] = [];
      form.forEach((value, name) => {
        entries.push([name, value]);
      });
      for (const [name, value] of entries) {
        if (typeof value === 'string') out[name] = value;
        else
          out.files[name] = {
            name: value.name,
            type: value.type,
            data: Buffer.from(await value.arrayBuffer()),
          };
      }
      return out;
    },
  );
}
