import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Room for the multipart envelope and text fields around a file of the largest allowed size. */
export const FORM_OVERHEAD_BYTES = 64 * 1024;

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
 * by maxBodyBytes and parsed by the platform's multipart reader (undici's Response.formData).
 * Registered only inside the plugin context of the upload routes.
 */
export function acceptUploads(app: FastifyInstance, maxBodyBytes: number): void {
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer', bodyLimit: maxBodyBytes },
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
