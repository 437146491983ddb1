/**
 * A refusal as data, beside its English message: a stable code and the values it names. The JSON
 * API answers it, and the editors' pages say it in the editor's language (src/http/admin/stage-errors.ts).
 * Errors that carry one expose it as `problem`.
 */
export type StageProblem = { code: string; params: Readonly<Record<string, string | number>> };

/**
 * A user-facing refusal that may carry its problem. `code` is optional because some refusals are
 * only ever read in English (the CLI's own usage checks); classes whose every refusal has a code
 * declare it required.
 */
export class ProblemError<C extends string = string> extends Error {
  readonly userFacing = true;
  constructor(
    message: string,
    readonly code?: C,
    readonly params: StageProblem['params'] = {},
  ) {
    super(message);
  }
  get problem(): StageProblem | undefined {
    return this.code ? { code: this.code, params: this.params } : undefined;
  }
}
