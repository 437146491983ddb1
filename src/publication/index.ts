export { MODEL_SECTIONS } from './model-sections.js';
export {
  ensurePublication,
  getPublication,
  type Publication,
  type PublicationPatch,
  parseMailbox,
  updatePublication,
} from './publication.js';
export { editSection, getSectionByKey, listSections, type Section, upsertSection } from './sections.js';
