export { MODEL_SECTIONS, seedModelSections } from './model-sections.js';
export {
  ensurePublication,
  getPublication,
  type Publication,
  type PublicationPatch,
  parseMailbox,
  updatePublication,
} from './publication.js';
export { editSection, getSectionByKey, listSections, type Section, upsertSection } from './sections.js';
export {
  isLocalSender,
  markSenderVerified,
  type SenderState,
  senderState,
  senderVerificationToken,
  verifySender,
} from './sender.js';
