import sax from 'sax';

/**
 * The first well-formedness error of a document, as a strict XML parser reports it, or null.
 * A feed that needed the lenient path is still read, but its source's health says so.
 */
export function wellFormednessError(text: string): string | null {
  // strictEntities: only the five XML entities; without it sax accepts &nbsp; and the rest of HTML's.
  const options = { trim: false, normalize: false, position: true, strictEntities: true };
  const parser = sax.parser(true, options as sax.SAXOptions);
  let first: string | null = null;
  parser.onerror = (err) => {
    first ??= err.message.split('\n')[0]?.trim() ?? err.message;
    // Stop at the first error: the rest is the lenient parser's job.
    throw err;
  };
  try {
    parser.write(text).close();
  } catch (err) {
    first ??= (err as Error).message.split('\n')[0] ?? String(err);
  }
  if (first) {
    const line = parser.line + 1;
    return `${first.replace(/\.$/, '')} (line ${line})`;
  }
  return null;
}
