/**
 * Bounces written for people, with no message/delivery-status part: each mail server family lays
 * out the failed addresses and the remote server's words its own way. Every extractor returns the
 * address and the text about it (from which reply-rules.ts reads the reason); the first family
 * whose layout is found wins. Layouts follow each MTA's documented or long-stable wording.
 */
export interface PlainRecipient {
  address: string;
  text: string;
}

interface Family {
  name: string;
  /** Finds the family's layout in the body; returns nothing when it is not there. */
  read(body: string): PlainRecipient[];
}

// Local parts may be UTF-8 (RFC 6531) but never hold the full-width punctuation of Chinese text.
const ADDR = String.raw`[^\s<>()"',;:@：，；（）、《》“”]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`;
const addrIn = (s: string): string | undefined => new RegExp(ADDR).exec(s)?.[0];

/** Lines after `from` up to the first blank line (or the end). */
function paragraphAfter(body: string, index: number): string {
  const rest = body.slice(index);
  const end = rest.search(/\n[ \t]*\n/);
  return (end >= 0 ? rest.slice(0, end) : rest).trim();
}

/** `<someone@example.com>:` then its lines: qmail, Postfix's text form, Yahoo/AOL, Courier. */
function angleBlocks(body: string): PlainRecipient[] {
  const out: PlainRecipient[] = [];
  const re = new RegExp(String.raw`^<(${ADDR})>(?: \(expanded from <[^>]+>\))?:[ \t]*(.*)$`, 'gm');
  for (const m of body.matchAll(re)) {
    const text = `${m[2] ?? ''}\n${paragraphAfter(body, (m.index ?? 0) + m[0].length)}`.trim();
    out.push({ address: m[1] as string, text });
  }
  return out;
}

const FAMILIES: Family[] = [
  {
    // Sun/Oracle Messaging Server: "Recipient address: x / Reason: ... / Diagnostic code: smtp;550 ...".
    name: 'messagingserver',
    read(body) {
      const out: PlainRecipient[] = [];
      const re = new RegExp(String.raw`^\s*(?:Original address|Recipient address):\s*(${ADDR})`, 'gim');
      for (const m of body.matchAll(re)) {
        out.push({ address: m[1] as string, text: paragraphAfter(body, (m.index ?? 0) + m[0].length) });
      }
      return out;
    },
  },
  {
    // Exim: "The following address(es) failed:" then indented addresses, each with indented detail.
    name: 'exim',
    read(body) {
      const at = body.search(
        /following address(?:\(es\))? failed:|could not be delivered to one or more of its recipients/i,
      );
      if (at < 0) return [];
      const out: PlainRecipient[] = [];
      const re = new RegExp(
        String.raw`^[ \t]{1,4}(?:<)?(${ADDR})(?:>)?(?:[ \t].*)?\n((?:[ \t]{4,}.*\n?|[ \t]*\n(?=[ \t]{4,}))*)`,
        'gm',
      );
      for (const m of body.slice(at).matchAll(re))
        out.push({ address: m[1] as string, text: (m[2] ?? '').trim() });
      return out;
    },
  },
  {
    // Sendmail: "----- The following addresses had permanent fatal errors -----" then "<x>" and "(reason: ...)".
    name: 'sendmail',
    read(body) {
      const at = body.search(
        /-{3,} ?The following addresses? (?:had|has) (?:permanent fatal errors|transient non-fatal errors)/i,
      );
      if (at < 0) return [];
      const out: PlainRecipient[] = [];
      const section = body.slice(at).split(/\n-{3,} ?Transcript of session follows/i);
      const transcript = section[1] ?? '';
      for (const m of (section[0] ?? '').matchAll(new RegExp(String.raw`^<?(${ADDR})>?\s*$`, 'gm'))) {
        const address = m[1] as string;
        const reason = /\(reason: ([^)]*)\)/.exec(paragraphAfter(section[0] ?? '', m.index ?? 0))?.[1] ?? '';
        const said =
          transcript.split('\n').find((l) => /^\s*[45]\d\d[ -]/.test(l) && l.includes(address)) ?? '';
        out.push({ address, text: `${reason}\n${said}`.trim() });
      }
      return out;
    },
  },
  {
    // Exchange 2003 and older Outlook: "The following recipient(s) cannot be reached:" then
    // "  someone@example.com on 7/1/2025 10:00 AM" and indented text ending in "<host #5.1.1>".
    name: 'exchange2003',
    read(body) {
      const at = body.search(/following recipient\(s\) (?:cannot|could not) be reached:/i);
      if (at < 0) return [];
      const lines = body
        .slice(at)
        .split('\n')
        .slice(1)
        .filter((l) => l.trim());
      const indent = (l: string) => (/^[ \t]*/.exec(l)?.[0] ?? '').replace(/\t/g, '        ').length;
      const top = Math.min(...lines.map(indent));
      const out: PlainRecipient[] = [];
      let block: string[] = [];
      const flush = () => {
        const address = addrIn(block[0] ?? '') ?? addrIn(block.join('\n'));
        if (address) out.push({ address, text: block.slice(1).join('\n').trim() || block.join('\n') });
        block = [];
      };
      for (const l of lines) {
        if (indent(l) === top) flush();
        block.push(l);
      }
      flush();
      return out;
    },
  },
  {
    // Lotus Domino: "was not delivered to:" / the address / "because:" / the reason.
    name: 'domino',
    read(body) {
      const m =
        /was not delivered to:\s*\n\s*\n?([^\n]+)\n[\s\S]*?because:\s*\n\s*\n?([^\n]+(?:\n[^\n]+)*)/i.exec(
          body,
        );
      const address = m ? addrIn(m[1] as string) : undefined;
      return address ? [{ address, text: (m?.[2] ?? '').trim() }] : [];
    },
  },
  {
    // DragonFly Mail Agent: "There was an error delivering your mail to <x>." then the remote words.
    name: 'dragonfly',
    read(body) {
      const re = new RegExp(String.raw`error delivering your mail to <(${ADDR})>\.?`, 'gi');
      return [...body.matchAll(re)].map((m) => ({
        address: m[1] as string,
        text:
          paragraphAfter(body, (m.index ?? 0) + m[0].length) ||
          body.slice((m.index ?? 0) + m[0].length, (m.index ?? 0) + m[0].length + 400),
      }));
    },
  },
  {
    // qmail, Postfix text, Yahoo/AOL, Courier: "<x>:" blocks.
    name: 'angle-blocks',
    read: angleBlocks,
  },
  {
    // Chinese-language notices (QQ, NetEase, Coremail, Alibaba): 收件人 / 以下地址 … 原因.
    name: 'chinese',
    read(body) {
      const out: PlainRecipient[] = [];
      const re = new RegExp(
        String.raw`(?:收件人|收信人|收件地址|以下地址|以下收件人|投递到|发送到|发往)[^\n@]{0,20}?[:：]?\s*<?(${ADDR})>?`,
        'g',
      );
      const reason =
        /(?:退信原因|失败原因|错误原因|拒收原因|原因|错误信息|Reason)\s*[:：]\s*([^\n]+(?:\n(?![^\n]*[:：])[^\n]+)*)/.exec(
          body,
        )?.[1] ?? '';
      const remote = /(?:^|\n)\s*((?:[45]\d\d)[ -][^\n]+)/.exec(body)?.[1] ?? '';
      for (const m of body.matchAll(re))
        out.push({ address: m[1] as string, text: `${reason}\n${remote}`.trim() });
      return out;
    },
  },
];

/** The failed addresses a plain-text bounce names, each with the words about it. */
export function plainRecipients(body: string): { family: string; recipients: PlainRecipient[] } | null {
  for (const f of FAMILIES) {
    const found = f.read(body);
    if (!found.length) continue;
    const seen = new Set<string>();
    const recipients = found.filter((r) => {
      const key = r.address.toLowerCase();
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return { family: f.name, recipients };
  }
  return null;
}
