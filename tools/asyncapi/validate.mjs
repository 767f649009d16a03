// Validates an AsyncAPI document with the official parser: `node validate.mjs asyncapi.json`.
// Prints each diagnostic; exits 1 on any error (severity 0), 0 otherwise.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';

const path = process.argv[2];
if (!path) {
  console.error('usage: node validate.mjs <asyncapi.json>');
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(path, 'utf8'));
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of diagnostics) {
  console.log(`${['error', 'warning', 'info', 'hint'][d.severity]} ${d.code} ` +
              `${d.path.join('.')}: ${d.message}`);
}
if (!document || errors.length) {
  console.log(`INVALID: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(`VALID: ${document.channels().length} channels, ` +
            `${document.operations().length} operations`);
