// Encodes samples with npm's gpt-tokenizer, for differential tests and the benchmark baseline.
//
//   node gpt_tokenizer_encode.mjs <gpt-tokenizer package dir> <encoding> <samples.json> [--count]
//
// <samples.json> is a JSON array of strings. Prints one line per sample: the token ids
// separated by spaces, or with --count only the number of tokens. Special tokens are encoded
// as ordinary text, as strata does.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [packageDir, encoding, samplesPath, mode] = process.argv.slice(2);
const module = await import(
    pathToFileURL(path.join(packageDir, 'esm', 'encoding', `${encoding}.js`)).href);
const samples = JSON.parse(readFileSync(samplesPath, 'utf8'));
const options = { allowedSpecial: new Set(), disallowedSpecial: new Set() };
const lines = [];
for (const sample of samples) {
  const tokens = module.encode(sample, options);
  lines.push(mode === '--count' ? String(tokens.length) : tokens.join(' '));
}
process.stdout.write(lines.join('\n') + '\n');
