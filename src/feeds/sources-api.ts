/** The feeds stage's public surface, for the CLI, the demo, workers and other stages. */
export { addItemFromUrl, listItems, updateItem } from './items.js';
export {
  isDue,
  type PollDeps,
  type PollOutcome,
  pollDueSources,
  pollSource,
  type SourcePoll,
} from './poll.js';
export { sanitizeFeedHtml } from './sanitize.js';
export {
  addSource,
  getSource,
  listSources,
  removeSource,
  requireSource,
  type SourceInput,
  SourceInputError,
  updateSource,
} from './sources.js';
