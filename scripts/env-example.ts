// Writes .env.example from the environment schema (src/config/env.ts).
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderEnvExample } from '../src/config/env-example.js';

const target = resolve(import.meta.dirname, '..', '.env.example');
writeFileSync(target, renderEnvExample());
process.stdout.write(`wrote ${target}\n`);
