import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from './model-issue.js';

/**
 * A certificate for 127.0.0.1 that the test processes trust (vitest.config.ts names it in
 * NODE_EXTRA_CA_CERTS), so a test SMTP relay can offer STARTTLS the way real relays do:
 * Gazette signs in to a relay only over TLS.
 */
export const LOOPBACK_CERT_PATH = path.join(projectRoot, 'tests/fixtures/tls/loopback.crt');

export const LOOPBACK_TLS = {
  key: readFileSync(path.join(projectRoot, 'tests/fixtures/tls/loopback.key')),
  cert: readFileSync(LOOPBACK_CERT_PATH),
};
