// Baseline for strata_tokenizer_bench: npm's gpt-tokenizer counting the same corpus in Node.
//
//   node gpt_tokenizer_bench.mjs <gpt-tokenizer package dir> <encoding> <corpus file> <runs>
//
// Prints one line: "<tokens> <seconds of the first run> <seconds of the best run>". The first
// run starts with gpt-tokenizer's merge cache empty; later runs reuse it (strata caches
// nothing). Module loading is not timed.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [packageDir, encoding, corpusPath, runsText] = process.argv.slice(2);
const module = await import(
    pathToFileURL(path.join(packageDir, 'esm', 'encoding', `${encoding}.js`)).href);
const corpus = readFileSync(corpusPath, 'utf8');
const options = { allowedSpecial: new Set(), disallowedSpecial: new Set() };
const runs = Math.max(1, Number(runsText));
let tokens = 0;
let first = 0;
let best = Infinity;
for (let run = 0; run < runs; ++run) {
  const started = process.hrtime.bigint();
  tokens = module.countTokens(corpus, options);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (run === 0) first = seconds;
  best = Math.min(best, seconds);
}
process.stdout.write(`${tokens} ${first} ${best}\n`);
