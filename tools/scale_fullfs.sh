#!/bin/bash
# scale_fullfs: a live broker whose store sits on a small filesystem that fills during ingest.
#
# A tmpfs of --size (64m) holds the store; spool files and pull messages (`skysieve send`) bring
# about three times what fits. Expected, and checked: intake pauses (the log names the store and
# "No space left on device", `ctl status` says intake "paused" because "the store cannot be
# written"), the broker neither crashes nor dies of SIGBUS, `skysieve verify` passes on the paused
# store (nothing half-written); once the filesystem is grown to --grow (512m, by remount) intake
# resumes by itself, and every alert sent is stored exactly once and run by the filter
# (tools/scale_check). Then `skysieve ingest` into a store on a full tmpfs: exit non-zero, an error
# naming the store and ENOSPC, the store verifies; grown, the same ingest completes.
#
# --run-dir-on-fs puts the broker's run directory (the intake journal) on the small filesystem
# too: a pull message that cannot be journalled is then lost (see the report), so that variant
# is a finding, not a check.
#
# Needs root (mount -t tmpfs); refuses with a message otherwise. Exit 0 when every check passed,
# 1 when one failed, 2 when it could not run.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build SIZE=64m GROW=512m FILES=40 PER=2500 HOLD=25 WORK= KEEP=0 RUN_ON_FS=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) BUILD=$2; shift ;;
    --size) SIZE=$2; shift ;;
    --grow) GROW=$2; shift ;;
    --files) FILES=$2; shift ;;
    --per) PER=$2; shift ;;
    --hold) HOLD=$2; shift ;;
    --work) WORK=$2; shift ;;
    --keep) KEEP=1 ;;
    --run-dir-on-fs) RUN_ON_FS=1 ;;
    *) echo "usage: $0 [--build DIR] [--size 64m] [--grow 512m] [--files 40] [--per 2500]" \
            "[--hold 25] [--work DIR] [--keep] [--run-dir-on-fs]" >&2; exit 2 ;;
    esac
    shift
done
[ -d "$BUILD" ] && BUILD=$(cd "$BUILD" && pwd) # the broker's config is read from elsewhere
EXE=${SKYSIEVE:-$BUILD/skysieve} CHECK=${SCALE_CHECK:-$BUILD/tools/scale_check}
FILTERS=${SCALE_FILTERS:-$BUILD/tools/scale-filters}
die() { echo "scale_fullfs: $*" >&2; exit 2; }
[ -x "$EXE" ] && [ -x "$CHECK" ] && [ -f "$FILTERS/scale_count.so" ] ||
    die "build first: $EXE, $CHECK and $FILTERS/scale_count.so (cmake --build BUILD --target scale_check)"
[ "$(id -u)" = 0 ] || die "needs root to mount a small tmpfs (mount -t tmpfs -o size=$SIZE); not run"
WORK=${WORK:-$(mktemp -d /tmp/scale_fullfs.XXXXXX)}
mkdir -p "$WORK/fs" "$WORK/fs2" "$WORK/spool"
mount -t tmpfs -o size=$SIZE tmpfs "$WORK/fs" ||
    die "cannot mount a tmpfs on $WORK/fs (needs CAP_SYS_ADMIN): not run"
BPID= FAILS=0 T0=$(date +%s.%N)
cleanup() {
    [ -n "$BPID" ] && kill -9 "$BPID" 2>/dev/null
    umount "$WORK/fs" 2>/dev/null; umount "$WORK/fs2" 2>/dev/null
    if [ $KEEP = 0 ] && [ $FAILS = 0 ]; then rm -rf "$WORK"; else echo "work directory $WORK kept"; fi
}
trap cleanup EXIT
now() { python3 -c "import time; print(f'{time.time() - $T0:.1f}')"; }
say() { echo "[$(now) s] $*"; }
fail() { echo "scale_fullfs: FAILED: $*"; FAILS=$((FAILS + 1)); }
gen() { # gen KIND FIRST N: a CSV of N alerts with unique ids and positions, 300 bytes of padding
    python3 - "$@" <<'PY'
import sys
k, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = ["alert_id,ra,dec,mjd,passband,mag,magerr,note"]
for i in range(first, first + n):
    g = i * 2 + (k == "P")
    out.append(f"{k}{i:010d},{(g % 3600) * 0.1:.5f},{-60 + (g // 3600) * 0.01:.5f},"
               f"{60000 + g * 1e-6:.6f},g,18.5,0.05,{'x' * 300}")
print("\n".join(out))
PY
}
status() { # status FIELD...: the fields of `ctl status`, space-separated ("-" when absent)
    "$EXE" ctl --config "$WORK/broker.ini" --timeout 2 status 2>/dev/null | python3 -c '
import json, sys
try: s = json.load(sys.stdin)["status"]
except Exception: s = {}
print(" ".join(str(s.get(k, "-")).replace(" ", "_") for k in sys.argv[1:]))' "$@"
}

RUN=$WORK/run; [ $RUN_ON_FS = 1 ] && RUN=$WORK/fs/run
printf '[filter count]\npath = %s/scale_count.so\nsetup.log = %s/runs.log\n' "$FILTERS" "$WORK" \
    > "$WORK/set.ini"
cat > "$WORK/broker.ini" <<INI
[broker]
store = $WORK/fs/store
run_dir = $RUN
stats_interval = 0
[input spool]
dir = $WORK/spool
poll = 0.1
[input pull]
address = ipc://$WORK/in.ipc
[filters]
set = $WORK/set.ini
[control]
address = ipc://$WORK/control.ipc
INI
say "store on a tmpfs of $SIZE at $WORK/fs; run directory $RUN; $FILES inputs of $PER alerts"
"$EXE" run --config "$WORK/broker.ini" > "$WORK/broker.log" 2>&1 &
BPID=$!
for _ in $(seq 100); do [ "$(status generation)" = 1 ] && break; sleep 0.1; done
[ "$(status generation)" = 1 ] || { cat "$WORK/broker.log"; die "the broker did not start"; }

# Feed in the background: spool files and pull messages in turn (a send blocks while the broker
# does not read its socket, as intake is paused).
NS=0 NP=0
for i in $(seq 0 $((FILES - 1))); do
    if [ $((i % 2)) = 0 ]; then NS=$((NS + PER)); else NP=$((NP + PER)); fi
done
(
    s=0 p=0
    for i in $(seq 0 $((FILES - 1))); do
        if [ $((i % 2)) = 0 ]; then
            gen S $s $PER > "$WORK/spool/.in$i.csv" && mv "$WORK/spool/.in$i.csv" "$WORK/spool/in$i.csv"
            s=$((s + PER))
        else
            gen P $p $PER > "$WORK/msg.csv"
            "$EXE" send --config "$WORK/broker.ini" "$WORK/msg.csv" > /dev/null ||
                echo "scale_fullfs: skysieve send failed for message $i" >&2
            p=$((p + PER))
        fi
        sleep 0.1
    done
) > "$WORK/feed.log" 2>&1 &
FEED=$!

# Until intake pauses: the timeline of status and space.
PAUSED= 
for _ in $(seq 600); do
    read -r intake why stored queue <<< "$(status intake paused_because stored_alerts queue)"
    used=$(df --output=used -B1M "$WORK/fs" | tail -1 | tr -d ' ')
    echo "$(now) intake=$intake stored=$stored queue=$queue used_mb=$used" >> "$WORK/timeline.txt"
    if [ "$intake" = paused ] && [ "$why" = "the_store_cannot_be_written" ]; then PAUSED=$(now); break; fi
    kill -0 $BPID 2>/dev/null || break
    sleep 0.2
done
[ -n "$PAUSED" ] || fail "intake never paused for the store (see $WORK/timeline.txt)"
say "intake paused: stored_alerts=$stored, the filesystem $(df --output=pcent "$WORK/fs" | tail -1 | tr -d ' ') used"
grep -m1 "No space left on device" "$WORK/broker.log" | sed 's/^/    log: /'
grep -q "store=$WORK/fs/store: store $WORK/fs/store: .*No space left on device; intake paused" \
    "$WORK/broker.log" || fail "the log does not name the store and ENOSPC"
sleep "$HOLD" # long enough for retries against the full disk
kill -0 $BPID 2>/dev/null || fail "the broker died while the disk was full ($(tail -3 "$WORK/broker.log"))"
read -r intake stored <<< "$(status intake stored_alerts)"
say "after ${HOLD} s: intake=$intake stored_alerts=$stored, $(grep -c 'intake paused' "$WORK/broker.log") pauses logged"
V=$("$EXE" verify --store "$WORK/fs/store" 2>&1) || fail "verify of the paused store: $V"
say "verify while paused: $V"

mount -o remount,size=$GROW "$WORK/fs" || fail "cannot grow the tmpfs"
GROWN=$(now)
say "filesystem grown to $GROW"
RESUMED=
for _ in $(seq 1500); do
    read -r intake stored queue <<< "$(status intake stored_alerts queue)"
    [ -z "$RESUMED" ] && [ "$intake" = running ] && RESUMED=$(now)
    if [ "$stored" = $((NS + NP)) ] && [ "$queue" = 0 ] && ! kill -0 $FEED 2>/dev/null; then break; fi
    sleep 0.2
done
say "intake running again at ${RESUMED:-never} s; stored_alerts=$stored of $((NS + NP)) sent, queue=$queue"
grep "intake resumed" "$WORK/broker.log" | tail -1 | sed 's/^/    log: /'
"$EXE" ctl --config "$WORK/broker.ini" stop > /dev/null
wait $BPID; RC=$?; BPID=
[ $RC = 0 ] || fail "the broker exited with status $RC"
grep -q "SIGBUS\|Bus error" "$WORK/broker.log" && fail "SIGBUS in the log"
C=$("$CHECK" --store "$WORK/fs/store" --spool $NS --pull $NP --runs "$WORK/runs.log") ||
    fail "lost or doubled: $C"
say "counts: $C"
V=$("$EXE" verify --store "$WORK/fs/store" 2>&1) || fail "verify at the end: $V"

# `skysieve ingest` into a store on a full filesystem.
mount -t tmpfs -o size=16m tmpfs "$WORK/fs2" || die "cannot mount a second tmpfs"
gen S 0 40000 > "$WORK/big.csv"
"$EXE" ingest --store "$WORK/fs2/store" --batch 5000 "$WORK/big.csv" > /dev/null 2> "$WORK/ingest.err"
RC=$?
say "ingest on a full filesystem: exit $RC: $(cat "$WORK/ingest.err")"
[ $RC != 0 ] || fail "ingest on a full filesystem exited 0"
grep -q "store $WORK/fs2/store: .*No space left on device" "$WORK/ingest.err" ||
    fail "ingest's error does not name the store and ENOSPC"
V=$("$EXE" verify --store "$WORK/fs2/store" 2>&1) || fail "verify after the failed ingest: $V"
say "verify after it: $V"
mount -o remount,size=$GROW "$WORK/fs2"
"$EXE" ingest --store "$WORK/fs2/store" "$WORK/big.csv" > /dev/null 2>&1 || fail "ingest again after growing"
C=$("$CHECK" --store "$WORK/fs2/store" --spool 40000) || fail "ingest again: $C"
say "ingest again after growing: $C"
[ $FAILS = 0 ] && echo "scale_fullfs: PASS" || echo "scale_fullfs: FAIL ($FAILS checks)"
[ $FAILS = 0 ]
