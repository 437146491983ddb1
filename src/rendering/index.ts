/** The rendering stage's public surface (other stages import from here). */
export {
  type CompiledVariant,
  type CompileVariantOptions,
  compileVariant,
  GMAIL_CLIP_BYTES,
  HTML_BUDGET_BYTES,
  NoSectionsToRenderError,
} from './compile-variant.js';
export { TemplateError } from './errors.js';
export { recipientName } from './recipient-name.js';
export { getTemplates, loadTemplates } from './template-store.js';
export { TEXT_COLUMNS, wrapText } from './text-wrap.js';
export {
  compileTokens,
  escapeTokenValue,
  RECIPIENT_TOKEN_KEYS,
  type TokenFiller,
  type TokenSegment,
  tokenSegments,
} from './tokens.js';
export type { RecipientTokens, RenderableIssue, RenderableItem, RenderableSection } from './types.js';
export { getOrCompileVariant } from './variant-cache.js';
export {
  allSectionCombinations,
  planVariant,
  type SkipReason,
  sectionsWithItems,
  type VariantPlan,
  variantKey,
} from './variant-plan.js';
