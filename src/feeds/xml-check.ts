import sax from 'sax';

/**
 * The first well-formedness error of a document, as a strict XML parser reports it, or null.
 * `atEnd` says the document was fine until it stopped (a truncated tail, which a lenient parser
 * can close) or until its root was complete (junk after it); an error in the middle (mismatched
 * tags) is not something to guess around.
 */
export interface XmlError {
  message: string;
  atEnd: boolean;
}

export function wellFormednessError(text: string): XmlError | null {
  // strictEntities: only the five XML entities; without it sax accepts &nbsp; and the rest of HTML's.
  const options = { trim: false, normalize: false, position: true, strictEntities: true };
  const parser = sax.parser(true, options as sax.SAXOptions);
  let first: string | null = null;
  let afterRoot = false;
  parser.onerror = (err) => {
    afterRoot ||= Boolean((parser as unknown as { closedRoot?: boolean }).closedRoot);
    first ??= err.message.split('\n')[0]?.trim() ?? err.message;
    // Stop at the first error: the rest is the lenient parser's job.
    throw err;
  };
  let atEnd = false;
  try {
    parser.write(text);
    atEnd = true;
    parser.close();
  } catch (err) {
    first ??= (err as Error).message.split('\n')[0] ?? String(err);
  }
  return first
    ? { message: `${first.replace(/\.$/, '')} (line ${parser.line + 1})`, atEnd: atEnd || afterRoot }
    : null;
}
