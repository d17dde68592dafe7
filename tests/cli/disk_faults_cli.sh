#!/usr/bin/env bash
# Whole-program checks of recns_train against full disks and unusable checkpoint folders, on 2
# ranks (small tmpfs mounts stand for the disks: needs root, skipped otherwise):
#  1. the disk fills up while a checkpoint is written: exit code 2 and one line naming the
#     checkpoint and "no space left on device", no temporary file left, the previous checkpoint
#     intact (main's build hung here, in HDF5's collective close);
#  2. the disk of the metrics file fills up: the same, the metrics file whole or absent;
#  3. a read-only checkpoint folder, or one without room for a checkpoint: refused before the
#     first epoch;
#  4. a fresh run into a folder holding another run's checkpoints is refused before the first
#     epoch and leaves them untouched; the same run again, and -restart from them, are not;
#  5. a -metrics_file named like a checkpoint in the checkpoint folder is refused;
#  6. SRNS's checkpoints have the same size at every epoch.
set -euo pipefail
bin="${RECNS_BIN_DIR:?}"
work="$(mktemp -d /tmp/recns_disk_faults_cli.XXXXXX)"
mounts=()
cleanup() {
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run() { timeout 60 mpirun -q -n "$@"; }
small_disk() {  # folder options: mounts a tmpfs there
  mkdir -p "$1"
  if ! mount -t tmpfs -o "$2" tmpfs "$1" 2>/dev/null; then
    echo "disk_faults_cli: skipped: cannot mount a tmpfs (needs root)"
    exit 77
  fi
  mounts+=("$work/$1")
}

"$bin/recns_convert" -format synthetic -synthetic_users 200 -synthetic_items 300 \
  -synthetic_mean_degree 10 -synthetic_communities 4 -valid_fraction 0.1 -output data.h5 >/dev/null
data_sum=$(md5sum < data.h5)
train() {  # args...: a 2-rank run, stdout in out.txt, stderr in err.txt; sets $code
  code=0
  run 2 "$bin/recns_train" data.h5 -model_type lightgcn -model_layers 2 -train_batch_size 256 \
    "$@" > out.txt 2> err.txt || code=$?
}
expect_error() {  # what expected-text: exit code 2 and one stderr line with the text
  if [ "$code" -ne 2 ] || [ "$(wc -l < err.txt)" -ne 1 ] ||
     ! grep -qi "^recns_train: error: .*$2" err.txt; then
    fail "$1: exit $code, stderr: $(head -c 600 err.txt) (expected exit 2 and one line with '$2')"
  fi
}
before_training() {  # what: no epoch was trained
  ! grep -q '^epoch' out.txt || fail "$1: reported only after training: $(grep '^epoch' out.txt | head -n 1)"
}
no_temporaries() {  # what folder
  local left
  left=$(find "$2" -name '.*' -type f | head -n 3)
  [ -z "$left" ] || fail "$1: temporary files left: $left"
}
readable() {  # file: an HDF5 file h5py opens whole
  /usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); f.visit(lambda n: None)" "$1" 2>/dev/null
}

# 1. Checkpoints of about 0.55 MB on a 1 MB disk: the first fits, the second does not.
small_disk full "size=1m"
train -model_dim 32 -train_epochs 3 -checkpoint_dir full/ck -metrics_file ""
expect_error "full disk during a checkpoint" "cannot write checkpoint 'full/ck/checkpoint-e000002-.*: no space left on device; the previous checkpoints are intact"
no_temporaries "full disk during a checkpoint" full
first=$(ls full/ck/checkpoint-e000001-*.h5 2>/dev/null || true)
if [ -z "$first" ] || ! readable "$first"; then
  fail "full disk during a checkpoint: the previous checkpoint is gone or damaged: $(ls -a full/ck)"
fi
[ -z "$(ls full/ck/checkpoint-e000002-*.h5 2>/dev/null)" ] ||
  fail "full disk during a checkpoint: a half-written checkpoint under its final name"

# 2. The metrics file's disk with 24 kB left: its first versions fit, a later one does not.
small_disk metrics "size=1m"
dd if=/dev/zero of=metrics/filler bs=1k count=1000 2>/dev/null
train -model_dim 16 -train_epochs 3 -checkpoint_dir "" -metrics_file metrics/m.h5
expect_error "full disk under the metrics file" "cannot write 'metrics/m.h5': no space left on device"
no_temporaries "full disk under the metrics file" metrics
[ ! -e metrics/m.h5 ] || readable metrics/m.h5 || fail "full disk under the metrics file: m.h5 is damaged"

# 3. A read-only checkpoint folder, and one with less room than a checkpoint takes.
small_disk readonly "size=1m,ro"
train -model_dim 16 -train_epochs 2 -checkpoint_dir readonly -metrics_file ""
expect_error "read-only checkpoint folder" "cannot write checkpoints in 'readonly' (-checkpoint_dir): .*read-only file system"
before_training "read-only checkpoint folder"
small_disk tiny "size=128k"
train -model_dim 16 -train_epochs 2 -checkpoint_dir tiny/ck -metrics_file ""
expect_error "checkpoint folder without room" "cannot write checkpoints in 'tiny/ck' (-checkpoint_dir): no space left on device: .* MB free, and a checkpoint of this run takes .* MB"
before_training "checkpoint folder without room"

# 4. Another run's checkpoints (another seed) in the folder of a fresh run.
train -model_dim 16 -train_epochs 2 -train_seed 7 -checkpoint_dir other -metrics_file ""
[ "$code" -eq 0 ] || fail "the run writing other/ failed: $(cat err.txt)"
other_sums=$(cd other && md5sum checkpoint-*.h5)
train -model_dim 16 -train_epochs 2 -checkpoint_dir other -metrics_file ""
expect_error "a fresh run into another run's folder" "the checkpoint folder 'other' (-checkpoint_dir) holds checkpoints of another run: 'other/checkpoint-e000002-s000000000012.h5' (seed 7, options [0-9a-f]*; this run: seed 2024, options [0-9a-f]*)"
before_training "a fresh run into another run's folder"
[ "$(cd other && md5sum checkpoint-*.h5)" = "$other_sums" ] || fail "the other run's checkpoints changed"
train -model_dim 16 -train_epochs 2 -train_seed 7 -checkpoint_dir other -metrics_file "" -summary again.json
[ "$code" -eq 0 ] || fail "the same run again into its own folder was refused: $(cat err.txt)"
train -model_dim 16 -train_epochs 3 -train_seed 7 -checkpoint_dir other -metrics_file "" -restart auto
[ "$code" -eq 0 ] && grep -q "restart: resuming from other/checkpoint-e000002-" out.txt ||
  fail "-restart auto in the run's own folder failed: $(cat err.txt)"

# 5. A metrics file that the run's last checkpoint would replace.
mkdir -p named
train -model_dim 16 -train_epochs 2 -checkpoint_dir named -metrics_file named/checkpoint-e000002-s000000000012.h5
expect_error "a metrics file named like a checkpoint" "-metrics_file named/checkpoint-e000002-s000000000012.h5 is named like a checkpoint in the checkpoint folder 'named'"
before_training "a metrics file named like a checkpoint"
[ -z "$(ls -A named)" ] || fail "a metrics file named like a checkpoint: files written: $(ls -A named)"

# 6. SRNS with H = 3: its state grows over the first 3 epochs, its checkpoints must not.
train -model_dim 16 -train_epochs 5 -sampler_type srns -sampler_srns_pool_size 80 \
  -sampler_srns_history 3 -checkpoint_dir srns -checkpoint_keep 10 -metrics_file ""
[ "$code" -eq 0 ] || fail "the SRNS run failed: $(cat err.txt)"
sizes=$(stat -c %s srns/checkpoint-*.h5 | sort -u)
[ "$(echo "$sizes" | wc -l)" -eq 1 ] || fail "SRNS checkpoints of several sizes: $(stat -c '%n %s' srns/checkpoint-*.h5)"

[ "$(md5sum < data.h5)" = "$data_sum" ] || fail "the dataset changed"
[ "$failures" -eq 0 ] && echo "disk_faults_cli: all checks passed"
exit $((failures > 0))
