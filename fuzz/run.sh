#!/bin/sh
# fuzz/run.sh TARGET SECONDS FUZZ_BUILD: runs one libFuzzer target of
# `make fuzz` for SECONDS, then prints one summary line (executions,
# executions per second, corpus size). Used by `make fuzz-smoke` and
# `make fuzz-long` (see fuzz/README.md).
#
# Corpus directories, in libFuzzer's order (the first is where new inputs
# go; every input of every directory runs first, so the committed
# regression seeds are replayed on every run):
#   FUZZ_BUILD/corpus/TARGET   grows from run to run (not committed)
#   fuzz/TARGET_corpus         the small committed seed set + regressions
#   FUZZ_BUILD/seeds/TARGET    written by fuzz/gen_seeds.c from the vectors
# Options: fuzz/TARGET.dict when present, fuzz/TARGET.options (extra flags).
# The log is FUZZ_BUILD/logs/TARGET.log; a crash leaves its input in
# FUZZ_BUILD/artifacts/TARGET-crash-<sha1> and fails the run.
set -u
t=$1
secs=$2
fb=$3
bin=$fb/bin/$t
log=$fb/logs/$t.log
mkdir -p "$fb/logs" "$fb/corpus/$t" "$fb/artifacts"
opts="-max_total_time=$secs -timeout=25 -rss_limit_mb=2560 -print_final_stats=1"
opts="$opts -artifact_prefix=$fb/artifacts/$t-"
[ -f "fuzz/$t.dict" ] && opts="$opts -dict=fuzz/$t.dict"
[ -f "fuzz/$t.options" ] && opts="$opts $(cat "fuzz/$t.options")"
dirs="$fb/corpus/$t"
for d in "fuzz/${t}_corpus" "$fb/seeds/$t"; do
    [ -d "$d" ] && dirs="$dirs $d"
done
# shellcheck disable=SC2086
"$bin" $opts $dirs >"$log" 2>&1
rc=$?
stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
execs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
files=$(find "$fb/corpus/$t" -type f | wc -l)
kb=$(du -sk "$fb/corpus/$t" | cut -f1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
printf '%-12s %5s s  %12s execs  %7s exec/s  %6s corpus files (%s KB)  %s  rc %s\n' \
    "$t" "$secs" "${execs:-?}" "${rate:-?}" "$files" "$kb" "${cov:-cov: ?}" "$rc"
if [ "$rc" -ne 0 ]; then
    echo "== $t FAILED (exit $rc); last lines of $log:"
    tail -n 60 "$log"
    ls -l "$fb/artifacts/$t-"* 2>/dev/null
fi
exit "$rc"
