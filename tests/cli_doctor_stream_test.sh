#!/usr/bin/env bash
# dsdeploy doctor reads logs of any size as streams (issue 15, item 3): a 65 MiB file (past the
# old 64 MiB refusal) whose lines end with bare CRs, CRLF and colour codes, with the NCCL fallback
# at its very end, gives the finding; its one 64 MiB line is read up to 1 MiB and doctor says so.
# Also the same log given in two pieces as two --nccl-log files of one node reads as one.
# Usage: cli_doctor_stream_test.sh DSDEPLOY_TOOL FIXTURES_DIR WORK_DIR
set -euo pipefail
tool=$1 fx=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
run() {
    local want=$1 out=$2; shift 2
    set +e; "$@" >"$out.out" 2>"$out.err"; local rc=$?; set -e
    [ "$rc" = "$want" ] || { cat "$out.out" "$out.err"; fail "$* exited $rc, expected $want"; }
}
expect() {  # expect FILE REGEX: an extended regex that must match a line of FILE
    grep -qE -- "$2" "$1" || { cat "$1"; fail "$1 has no line matching: $2"; }
}

# 65 MiB: one 64 MiB line of zero bytes (sparse, so quick to make), then the NCCL log with bare
# CR endings, every other line coloured, the last one CRLF
log="$fx/gpu/nccl-ib-requested-absent.log"
truncate -s 64M big.log
printf 'INFO filler\r\n%.0s' $(seq 1 1000) >> big.log
printf '\x1b[1;36m' >> big.log
awk 'NR % 2 { printf "\033[36m%s\033[0m\r", $0; next } { printf "%s\r", $0 }' "$log" >> big.log
printf 'tail line\r\n' >> big.log
[ "$(stat -c %s big.log)" -gt $((64 << 20)) ] || fail "big.log is not larger than 64 MiB"
run 1 big "$tool" doctor --nccl-log big.log
expect big.out '^ERROR  nccl.ib_fallback_to_socket  \[local, nccl_log\]'
expect big.out 'note: 1 line\(s\) of the nccl_log of local are longer than 1 MiB'
grep -q $'\x1b' big.out && fail "colour codes reached the output"
grep -q 'larger than' big.out big.err && fail "the file was refused"

# the log split in two files of one node: read as one
head -n 20 "$log" > part1.log
tail -n +21 "$log" > part2.log
run 1 parts "$tool" doctor --nccl-log part1.log --nccl-log part2.log
expect parts.out '^ERROR  nccl.ib_fallback_to_socket  \[local, nccl_log\]'
echo "ok"
