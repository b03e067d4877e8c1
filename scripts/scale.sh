#!/usr/bin/env bash
# Scaling sweep: runs a job through mpirun on the first 1, 2, ..., all hosts of a hostfile (on a
# one-host hostfile: with 1, 2, ..., slots ranks), R times each, and appends one row per run to the
# table `runs` of the scaling file (read it with `pd.read_hdf("results/scaling.h5", "runs")`).
# Each run's result file goes to <scaling file without .h5>/<job>-h<hosts>-n<ranks>-r<repeat>.h5.
# Run it on the first host of the hostfile: rank 0 runs there and writes the result files.
# The hostfile and the job are checked before anything runs; a failed run stops the sweep with a
# non-zero exit, and the rows already written stay. Plan and rows come from `triton-batch hosts`
# and `triton-batch record-run`; this script only launches mpirun and times it. With --cluster it
# launches through `scripts/mpirun --cluster` (the settings of `scripts/cluster up`).
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: scripts/scale.sh HOSTFILE JOB.toml [--ranks-per-host N] [--repeat R] [--into FILE] [--cluster]
  --ranks-per-host N  ranks on each host (default: its slots); one host: 1..N ranks
  --repeat R          runs of each configuration (default 1)
  --into FILE         scaling file to append to (default results/scaling.h5)
  --cluster           launch with the Open MPI settings of scripts/cluster (HOSTFILE: its hostfile)
EOF
  exit "${1:-2}"
}

positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: $1 expects a whole number >= 1, not '$2'" >&2; usage; }; }

root=$(cd "$(dirname "$0")/.." && pwd)
ranks_per_host="" repeat=1 into=results/scaling.h5 args=() mpirun=("$root/scripts/mpirun")
while [ $# -gt 0 ]; do
  case $1 in
    --ranks-per-host | --repeat | --into)
      [ $# -ge 2 ] || { echo "scale.sh: $1 needs a value" >&2; usage; }
      case $1 in
        --ranks-per-host) positive "$1" "$2"; ranks_per_host=$2 ;;
        --repeat) positive "$1" "$2"; repeat=$2 ;;
        --into) into=$2 ;;
      esac
      shift 2 ;;
    --cluster) mpirun+=(--cluster); shift ;;
    -h | --help) usage 0 ;;
    -*) echo "scale.sh: unknown option '$1'" >&2; usage ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -eq 2 ] || { echo "scale.sh: expected HOSTFILE and JOB.toml" >&2; usage; }
hostfile=${args[0]} job=${args[1]}

bin=$root/target/release/triton-batch
[ -x "$bin" ] || "$root/scripts/setup"

# Both checks run before any mpirun, so a bad hostfile line or job stops the sweep here.
plan=$("$bin" hosts "$hostfile" ${ranks_per_host:+--ranks-per-host "$ranks_per_host"})
kind=$("$bin" validate "$job" | sed -n 's/.*: valid \([a-z]*\) job .*/\1/p')
[ -n "$kind" ] || { echo "scale.sh: cannot tell the kind of $job from 'triton-batch validate'" >&2; exit 2; }

name=$(basename "$job"); name=${name%.*}
runs_dir=${into%.h5}
[ "$runs_dir" != "$into" ] || runs_dir=$into.runs
mkdir -p "$runs_dir"
written=0
# The plan is read on fd 3 and mpirun's stdin is /dev/null: mpirun forwards stdin to rank 0.
while IFS=$'\t' read -r -u 3 hosts ranks host_names mpirun_hosts; do
  for ((r = 1; r <= repeat; r++)); do
    out=$runs_dir/$name-h$hosts-n$ranks-r$r.h5
    echo "scale.sh: $kind $name on $host_names, $ranks rank(s), repeat $r" >&2
    start=$(date +%s.%N)
    status=0
    "${mpirun[@]}" --host "$mpirun_hosts" -np "$ranks" "$bin" "$kind" "$job" --out "$out" --quiet </dev/null || status=$?
    end=$(date +%s.%N)
    if [ "$status" -ne 0 ]; then
      echo "scale.sh: the run on $host_names with $ranks rank(s) failed (exit $status); stopping. $written row(s) of this sweep were appended to $into" >&2
      exit "$status"
    fi
    "$bin" record-run "$out" --job "$job" --into "$into" --host-names "$host_names" --repeat "$r" \
      --wall-seconds "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", b - a }')"
    written=$((written + 1))
  done
done 3< <(grep -v '^#' <<<"$plan")
echo "scale.sh: $written row(s) appended to table runs of $into" >&2
