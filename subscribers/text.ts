/** Replaces runs of control characters (CR, LF, NUL, DEL…) with one space: names go into greetings and headers. */
export function stripControl(value: string): string {
  let out = '';
  let inRun = false;
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) {
      if (!inRun) out += ' ';
      inRun = true;
    } else {
      out += ch;
      inRun = false;
    }
  }
  return out;
}

export function hasControl(value: string): boolean {
  return stripControl(value) !== value;
}
