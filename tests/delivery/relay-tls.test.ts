import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifySmtpReply } from '../../src/delivery/classify.js';
import { openRelay } from '../../src/delivery/relay-connection.js';
import { parseRelayUrls, RelayConfigError, relayUrl } from '../../src/delivery/relay-spec.js';
import { verifyRelay } from '../../src/http/admin/pages/settings-relays.js';

/**
 * The penetration test's finding: a relay set to STARTTLS whose server offers none got the
 * password in clear text, and "verify" said it worked. A relay with credentials signs in only
 * over TLS; a server without STARTTLS is refused before AUTH.
 */
describe('relay credentials never in clear text', () => {
  let server: SMTPServer;
  let port: number;
  const logins: string[] = [];
  let messages = 0;
  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: false,
      allowInsecureAuth: true,
      hideSTARTTLS: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth(auth, _session, cb) {
        logins.push(`${auth.username}:${auth.password}`);
        cb(null, { user: auth.username });
      },
      onData(stream, _session, cb) {
        messages += 1;
        stream.resume();
        stream.on('end', () => cb());
      },
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    port = (server.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((ok) => server.close(() => ok()));
  });

  const storedRelay = () =>
    relayUrl({ host: '127.0.0.1', port, security: 'starttls' }, { user: 'relay-user', pass: 'Secr3t pass' });

  it('verify of a STARTTLS relay with credentials fails against a server offering no STARTTLS, sending no password', async () => {
    const failure = await verifyRelay({
      name: 'plain',
      url: storedRelay(),
      weight: 1,
      perSecond: 0,
      perHour: 0,
    });
    expect(failure?.noTls).toBe(true);
    expect(failure?.message).not.toContain('Secr3t');
    expect(logins).toEqual([]);
  });

  it('delivery through it fails with a TLS error (which pauses a send), sending no password and no message', async () => {
    const spec = parseRelayUrls([`smtp://relay-user:pw-${port}@127.0.0.1:${port}`])[0];
    if (!spec) throw new Error('no spec');
    const relay = await openRelay(spec, { connections: 1, probe: false });
    try {
      const err = await relay.mailer
        .sendMail({ from: 'a@example.org', to: 'b@example.org', subject: 'x', text: 'x' })
        .then(
          () => null,
          (e: unknown) => e as { code?: string; message?: string },
        );
      expect(err).not.toBeNull();
      expect(classifySmtpReply(err).errorClass).toBe('tls');
    } finally {
      relay.close();
    }
    expect(logins).toEqual([]);
    expect(messages).toBe(0);
  });

  it('refuses an SMTP_URL with credentials that asks for clear text, and leaves a relay without credentials alone', () => {
    for (const q of ['ignoreTLS=true', 'requireTLS=false', 'opportunisticTLS=true']) {
      expect(() => parseRelayUrls([`smtp://u:p@relay.example:587?${q}`])).toThrow(RelayConfigError);
      expect(() => parseRelayUrls([`smtp://u:p@relay.example:587?${q}`])).toThrow(/must use TLS/);
    }
    expect(parseRelayUrls(['smtp://relay.example:25'])[0]?.url).toBe('smtp://relay.example:25');
    expect(parseRelayUrls(['smtps://u:p@relay.example:465'])[0]?.url).toBe('smtps://u:p@relay.example:465');
  });
});
