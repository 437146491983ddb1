/**
 * A refusal as data, beside its English message: a stable code and the values it names. The JSON
 * API answers it, and the editors' pages say it in the editor's language (src/web/stage-errors.ts).
 * Errors that carry one expose it as `problem`.
 */
export type StageProblem = { code: string; params: Readonly<Record<string, string | number>> };
