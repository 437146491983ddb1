import { Busboy, type BusboyHeaders } from '@fastify/busboy';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Room for the multipart envelope and text fields around a file of the largest allowed size. */
export const FORM_OVERHEAD_BYTES = 64 * 1024;

export interface UploadedFile {
  name: string;
  type: string;
  size: number;
  /** The file as it arrived, in pieces (never joined into one buffer). */
  chunks: Buffer[];
}

export interface UploadBody {
  /** Every text field of the form (the CSRF token `_csrf` among them). */
  [field: string]: unknown;
  /** The uploaded files by field name. */
  files: Record<string, UploadedFile>;
}

const httpError = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode });

/**
 * Parses multipart/form-data completely in the content-type parser, so the text fields are on
 * req.body before the access guard's CSRF check (a preValidation hook on the root). Why not
 * @fastify/multipart: it fills req.body in a preValidation hook of its own context, which runs
 * after the root's, so a plain HTML form would always be refused as forged. The body is read as it
 * arrives, by busboy (the streaming parser @fastify/multipart uses too), one network chunk at a
 * time: parsing a whole 20 MB body in one go would hold the event loop for a noticeable while.
 * A body over maxBodyBytes is refused as soon as it passes the limit (413). Registered only
 * inside the plugin context of the upload routes; nothing is stored here (the route does that,
 * after the CSRF check).
 */
export function acceptUploads(app: FastifyInstance, maxBodyBytes: number): void {
  app.addContentTypeParser('multipart/form-data', (req: FastifyRequest, payload, done) => {
    let parser: ReturnType<typeof Busboy>;
    try {
      parser = Busboy({
        headers: req.headers as BusboyHeaders,
        limits: { files: 1, fields: 20, fieldSize: 64 * 1024, parts: 21 },
      });
    } catch {
      done(httpError(400, 'the upload is not a readable multipart form'), undefined);
      return;
    }
    const out: UploadBody = { files: {} };
    let received = 0;
    let settled = false;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      if (err) {
        payload.unpipe(parser);
        // Read and drop the rest, so the refusal can still be answered on this connection.
        payload.resume();
        done(err, undefined);
      } else done(null, out);
    };
    payload.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBodyBytes) settle(httpError(413, 'the upload is larger than this form takes'));
    });
    payload.on('error', (err) => settle(httpError(400, `the upload broke off: ${err.message}`)));
    parser.on('field', (name, value) => {
      out[name] = value;
    });
    parser.on('file', (name, stream, fileName, _encoding, mimeType) => {
      const file: UploadedFile = { name: fileName, type: mimeType, size: 0, chunks: [] };
      out.files[name] = file;
      stream.on('data', (data: Buffer) => {
        file.chunks.push(data);
        file.size += data.length;
      });
    });
    parser.on('finish', () => settle(null));
    parser.on('error', () => settle(httpError(400, 'the upload is not a readable multipart form')));
    payload.pipe(parser);
  });
}
