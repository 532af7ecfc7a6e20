#!/usr/bin/env bash
# Peak memory of each training stage in a real stage container, hardened and limited as
# the DAG starts it (read-only root, tmpfs /tmp, cap_drop ALL, no-new-privileges, memory
# without swap, 1 CPU, pids): the figures behind carprice.config.limits.
#
#   bench/stage_peaks.sh ROWS [MEMORY]      e.g. bench/stage_peaks.sh 160000 2g
#
# Needs the stage image (carprice-stage-ml) and an MLflow server without auth reachable
# from the host network at $MLFLOW_URI (default http://127.0.0.1:5077), e.g.
#   python -m mlflow server --host 127.0.0.1 --port 5077 --backend-store-uri sqlite:///m.db
# Prints per stage: its summary's status, the cgroup's peak (cgroup v1 max_usage_in_bytes
# or v2 memory.peak: page cache included, so an upper bound) and whether it was OOM-killed.
# Uses its own volume and containers (bench-peaks-*), removed at the end.
set -uo pipefail
ROWS="${1:?usage: bench/stage_peaks.sh ROWS [MEMORY]}"
MEM="${2:-2g}"
MLFLOW_URI="${MLFLOW_URI:-http://127.0.0.1:5077}"
IMAGE="${IMAGE:-carprice-stage-ml:latest}"
RUN="bench-$ROWS-$MEM-$$"
VOLUME="bench-peaks-$$"
docker volume create "$VOLUME" >/dev/null
trap 'docker volume rm -f "$VOLUME" >/dev/null' EXIT

# shellcheck disable=SC2016  # expanded by the container's shell, not here
peak='p=/sys/fs/cgroup/memory.peak; [ -r $p ] || p=/sys/fs/cgroup/memory/memory.max_usage_in_bytes
python -m carprice.pipeline "$@"; rc=$?; echo "PEAK_MIB $(( $(cat $p) / 1048576 ))"; exit $rc'
stages=("ingest" "validate" "preprocess" "train --candidate ridge" "train --candidate hgb"
        "evaluate")
for stage in "${stages[@]}"; do
  name="bench-peaks-$$"
  # shellcheck disable=SC2086  # the stage and its flags are separate words
  out="$(docker run --name "$name" --read-only --tmpfs /tmp:rw,nosuid,nodev,size=256m \
    --cap-drop ALL --security-opt no-new-privileges:true --pids-limit 256 \
    --memory "$MEM" --memory-swap "$MEM" --cpus 1 --network host -u 1000:1000 \
    -e HOME=/tmp -e MPLCONFIGDIR=/tmp/matplotlib -e XDG_CACHE_HOME=/tmp/.cache \
    -e TMPDIR=/tmp -e JOBLIB_TEMP_FOLDER=/tmp -e PYTHONUNBUFFERED=1 \
    -e CARPRICE_DATA_DIR=/app/data -e CARPRICE_RUN_ID="$RUN" -e CARPRICE_STAGE_MEM_LIMIT="$MEM" \
    -e MLFLOW_TRACKING_URI="$MLFLOW_URI" -e CARPRICE_PARAMS_JSON="{\"data.rows\": $ROWS}" \
    -v "$VOLUME:/app/data" --entrypoint sh "$IMAGE" -c "$peak" sh $stage 2>&1)"
  status="$(grep -o '"status": "[a-z]*"' <<<"$out" | tail -1)"
  mib="$(grep -o 'PEAK_MIB [0-9]*' <<<"$out" | tail -1)"
  oom="$(docker inspect "$name" --format '{{.State.OOMKilled}} exit={{.State.ExitCode}}')"
  docker rm -f "$name" >/dev/null
  printf '%-24s %-22s %-14s OOMKilled=%s\n' "$stage" "${status:-no summary}" "$mib" "$oom"
done
