#!/usr/bin/env bash
# Leave-series-out cross-validation of the shipped recipe on the 13 NAB
# series in testdata/: every series scored on its test split by a forecaster
# trained on the other folds' series only (docs/PROTOCOL.md). Recipe flags
# after the fold count go to `perfpredict crossval` (e.g. --ensemble 1), so
# a recipe change can be compared on series the change did not see.
#
#   tools/crossval.sh [FOLDS] [crossval flags...]    (default 4 folds; ~20 min on 2 cores)
#
# The whole table goes to crossval-<time>.txt in the working directory;
# its summary is printed, then the LightGBM-style anchor's figures on the
# same folds (tools/anchor, about 3 more minutes), appended to the file.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
folds="${1:-4}"
shift || true
out="$PWD/crossval-$(date -u +%Y%m%dT%H%M%S).txt"
(cd "$root" && go run ./cmd/perfpredict crossval --folds "$folds" "$@") > "$out"
sed -n '/^geometric mean of MASE/,$p' "$out"
echo
echo "LightGBM-style anchor (tools/anchor), the same $folds folds: MASE at h = 1, 12, 30" | tee -a "$out"
(cd "$root" && go run ./tools/anchor -folds "$folds" 2>/dev/null) | tee -a "$out" | tail -1
