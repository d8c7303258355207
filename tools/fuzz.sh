#!/usr/bin/env bash
# Runs each named libFuzzer target for a bounded time and reports executions.
# Usage: tools/fuzz.sh BUILD_DIR SECONDS TARGET...
# Corpora live in fuzz-corpus/<target> (kept between runs, not committed);
# seeds come from fuzz/seeds/<target> and ../shared/vectors.
set -euo pipefail
build=$1; seconds=$2; shift 2
for target in "$@"; do
  bin="$build/fuzz/$target"
  [ -x "$bin" ] || { echo "fuzz: $bin not built" >&2; exit 1; }
  corpus="fuzz-corpus/$target"
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/seeds/$target" ] && seeds+=("fuzz/seeds/$target")
  case "$target" in
    sgxs_fuzz|sigstruct_fuzz) [ -d ../shared/vectors/sgx ] && seeds+=(../shared/vectors/sgx) ;;
  esac
  log=$(mktemp)
  echo "fuzz: $target for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 \
        "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $target FOUND A CRASH (input saved as crash-* in $(pwd))" >&2
    rm -f "$log"
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$log" | sed "s/^/fuzz: $target /"
  rm -f "$log"
done
