import { spawnSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';

/**
 * The field's own tools, from Debian: python3-dkim (dkimpy) verifies signatures and Python's
 * email parser reports MIME defects. Debian's /usr/bin/python3, not the one on PATH (pyenv's has
 * no dkim module). .ci/run installs python3-dkim when it is missing.
 */
export const PYTHON = '/usr/bin/python3';

/** Whether dkimpy is importable; without it the caller skips with one line, and fails under CI. */
export function pythonDkimReady(): boolean {
  const ok =
    existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import dkim'], { encoding: 'utf8' }).status === 0;
  if (!ok && process.env.CI)
    throw new Error(`python3-dkim missing for ${PYTHON} (apt-get install -y python3-dkim)`);
  if (!ok) console.warn('skipped: python3-dkim is not installed for /usr/bin/python3');
  return ok;
}

// Reads the message on stdin. DOWNGRADE=1 first does what a relay without 8BITMIME must do
// (RFC 6152 §3): every 8bit body part becomes quoted-printable, byte for byte elsewhere.
// The public key comes from a dnsfunc, not DNS (this network has none).
const SCRIPT = String.raw`
import sys, os, re, json, quopri, email, email.policy, dkim
def part(m):
        global downgraded
        head, body = m.group(1), m.group(2)
        if not re.search(rb'(?im)^Content-Transfer-Encoding:\s*8bit\s*$', head):
            return m.group(0)
        downgraded = True
        head = re.sub(rb'(?im)^(Content-Transfer-Encoding:)\s*8bit', rb'\1 quoted-printable', head)
        body = quopri.encodestring(body.replace(b'\r\n', b'\n')).replace(b'\n', b'\r\n')
        return head + b'\r\n\r\n' + body
txt = ('v=DKIM1; k=rsa; p=' + os.environ['DKIM_PUBLIC_KEY']).encode()
data = sys.stdin.buffer.read()
out = []
while data:
    size, data = data.split(b'\n', 1)
    raw, data = data[:int(size)], data[int(size):]
    downgraded = False
    if os.environ.get('DOWNGRADE') == '1':
        raw = re.sub(rb'(?s)(--[^\r\n]+\r\n(?:(?!\r\n\r\n).)*?)\r\n\r\n(.*?)(?=\r\n--)', part, raw)
    verified = dkim.verify(raw, dnsfunc=lambda name, timeout=5: txt)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [type(d).__name__ for p in msg.walk() for d in p.defects]
    out.append({'verified': bool(verified), 'defects': defects, 'downgraded': downgraded})
print(json.dumps(out))
`;

export interface PythonMailCheck {
  verified: boolean;
  defects: string[];
  /** Whether the downgrade found an 8bit part to re-encode. */
  downgraded: boolean;
}

/** dkim.verify() on the message (after a relay's downgrade when asked) and email's defects. */
export function checkWithPython(
  raw: Buffer,
  publicKey: KeyObject,
  opts: { downgrade?: boolean } = {},
): PythonMailCheck {
  return checkAllWithPython([raw], publicKey, opts)[0] as PythonMailCheck;
}

/** The same for several messages in one Python process (each start costs about a second here). */
export function checkAllWithPython(
  raws: Buffer[],
  publicKey: KeyObject,
  opts: { downgrade?: boolean } = {},
): PythonMailCheck[] {
  const r = spawnSync(PYTHON, ['-c', SCRIPT], {
    input: Buffer.concat(raws.flatMap((raw) => [Buffer.from(`${raw.length}\n`), raw])),
    env: {
      PATH: process.env.PATH ?? '',
      DKIM_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      DOWNGRADE: opts.downgrade ? '1' : '0',
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`python check failed: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString()) as PythonMailCheck[];
}
