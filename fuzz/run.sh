#!/usr/bin/env bash
# Runs every fuzz target for a short while (a smoke run for CI), or longer when asked:
#   fuzz/run.sh                 20 seconds per target
#   fuzz/run.sh 3600            an hour per target
#   fuzz/run.sh 600 cloudevent  ten minutes of one target
# Installs cargo-fuzz into .tools/ when it is not on PATH. Only a stable toolchain is needed: cargo-fuzz passes
# flags that rustc accepts only on nightly, and RUSTC_BOOTSTRAP=1 lets stable rustc accept them.
# A crash stops the run with a non-zero status and leaves its input in fuzz/artifacts/<target>/; turn it into a
# regression test in the normal test suite before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
shift || true

if ! command -v cargo-fuzz >/dev/null; then
  if [ ! -x .tools/bin/cargo-fuzz ]; then
    cargo install cargo-fuzz --version 0.13.2 --locked --root .tools
  fi
  export PATH="$PWD/.tools/bin:$PATH"
fi
export RUSTC_BOOTSTRAP=1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  echo "fuzz: $target for ${seconds}s"
  # New inputs go to fuzz/corpus/<target> (kept between runs, not committed); the committed seeds are read too.
  cargo fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
