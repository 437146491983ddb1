/** A template that cannot render (MJML validation, missing partial, bad Handlebars): fails before any send. */
export class TemplateError extends Error {
  override name = 'TemplateError';
  readonly userFacing = true;
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly reason: string,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${reason}`);
  }
}
