#!/usr/bin/env bash
# The paper preset of MNIST 7 vs 9 on one GPU machine, inside a fixed time: every (method, seed)
# run of b = 25 (Fig 3a, c, d), then of b = 1 (Table 2, Fig B.1), each in its own process (they
# share the GPU; no dask needed), all stopped by SIGTERM at the deadline. Every run's table
# keeps the rows it finished and resumes from them when the script is given again, here or
# anywhere else. At the end it prints the rows each table holds and copies the tables to
# $COPY_TO (if set), e.g. $OUT on the device machine.
#
#   bash scripts/device_paper_mnist.sh                          # paper preset, 540 s
#   PRESET=quick LIMIT_S=240 bash scripts/device_paper_mnist.sh # the same on a CPU, in minutes
#
# Settings (environment): PRESET (paper), LIMIT_S (540: seconds until every run is stopped),
# JOBS (16: processes at a time), PYTHON (python3), RESULTS (results), EXPERIMENTS
# ("mnist_7v9_b25 mnist_7v9_b1"), METHODS (unset: every method of the experiment), COPY_TO
# (unset). Data: $DEIMOS_DATA_DIR (see README, Data).
set -uo pipefail
cd "$(dirname "$0")/.."
PRESET=${PRESET:-paper}
LIMIT_S=${LIMIT_S:-540}
JOBS=${JOBS:-16}
PY=${PYTHON:-python3}
RESULTS=${RESULTS:-results}
EXPERIMENTS=${EXPERIMENTS:-"mnist_7v9_b25 mnist_7v9_b1"}
METHODS=${METHODS:-}
export TQDM_DISABLE=1 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
deadline=$(( $(date +%s) + LIMIT_S ))

runs_of() {  # "experiment method seed" per line, for the preset's methods and seeds
  "$PY" - "$1" "$PRESET" $METHODS <<'EOF'
import sys
from deimos_utils.experiment.config import get_config
config = get_config(sys.argv[1], preset=sys.argv[2])
methods = sys.argv[3:] or config.methods
unknown = sorted(set(methods) - set(config.methods))
if unknown:
    sys.exit(f"METHODS: {', '.join(unknown)} not among {sys.argv[1]}'s {', '.join(config.methods)}")
for method in methods:
    for seed in config.seeds:
        print(sys.argv[1], method, seed)
EOF
}

mkdir -p "$RESULTS/logs"
for exp in $EXPERIMENTS; do
  runs=$(runs_of "$exp") || { echo "cannot read the runs of $exp at preset $PRESET" >&2; exit 2; }
  while read -r e method seed; do
    while (( $(jobs -rp | wc -l) >= JOBS )); do sleep 1; done
    left=$(( deadline - $(date +%s) ))
    (( left > 20 )) || break 2
    echo "start $e $method seed $seed (${left} s left)"
    timeout -s TERM -k 30 "$left" "$PY" -m deimos_utils.experiment.cli "$e" --preset "$PRESET" \
      --methods "$method" --seeds "$seed" --workers 1 --results-dir "$RESULTS" \
      > "$RESULTS/logs/${e}_${PRESET}_${method}_${seed}.log" 2>&1 &
  done <<< "$runs"
done
wait

"$PY" - "$RESULTS" "$PRESET" $EXPERIMENTS <<'EOF'
import sys
from pathlib import Path
import pandas as pd
results, preset = Path(sys.argv[1]), sys.argv[2]
for exp in sys.argv[3:]:
    for table in sorted((results / exp / preset).glob("*.csv")):
        rows = pd.read_csv(table)
        print(f"{exp} {table.stem}: {len(rows)} rows, last n_acquired "
              f"{rows['n_acquired'].iloc[-1] if len(rows) else '-'}")
EOF
if [ -n "${COPY_TO:-}" ]; then
  for exp in $EXPERIMENTS; do
    [ -d "$RESULTS/$exp/$PRESET" ] || continue
    tar -czf "$COPY_TO/${exp}_${PRESET}.tar.gz" -C "$RESULTS" "$exp/$PRESET"
  done
  tar -czf "$COPY_TO/logs.tar.gz" -C "$RESULTS" logs
fi
