#!/usr/bin/env bash
# The GPU check, one script, at most 8 minutes on a fresh, offline GPU machine that has only a copy of
# this working tree: install (<= 3 min), the trainer's throughput against pytorch/examples' dcgan/main.py
# with --device cuda (fp32, bf16 autocast, bf16 + channels_last, + torch.compile; <= 2.5 min), then 1, 2,
# 4 and 8 trials packed on the one GPU through the product's study path, each trial's device checked
# against its Ray grant from its run.json (<= 2 min; bench/gpu_packing.py; the check only reads files).
# Every phase runs under `timeout`; a failed or timed-out phase is recorded and the next one still runs.
#
#   bash bench/gpu_check.sh [--dry-run] [--out DIR] [--reference PATH] [--reference-commit SHA]
#
# --out DIR     results (default: $OUT if set, else bench/results): gpu_check.json (phases, environment,
#               nvidia-smi, headline numbers, each k's grant check), gpu_check.log, gpu_check_throughput.json,
#               gpu_check_throughput_compile.json, gpu_packing.json
# --reference   pytorch/examples' dcgan/main.py (default bench/.reference/dcgan/main.py; never commit it).
#               Missing: ours is timed alone and the ratios are null. --reference-commit records its
#               commit (default: the first line of bench/.reference/COMMIT, if there).
# --dry-run     the plumbing on a CPU: no install (the active venv, else ./.venv), tiny CPU runs.
# Python: $GANSEARCH_VENV if given (no install); else a venv in /tmp/gansearch-venv with the pinned torch
# and the project installed as the Makefile does. If that install fails (no package index), the venv is
# given this machine's own Python packages (e.g. a preinstalled CUDA torch: the pins are then NOT met, and
# gpu_check.json says so), plus any wheels in $GANSEARCH_WHEELS (default bench/.wheels), --no-deps.
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRY=0
OUT_DIR=${OUT:-$REPO/bench/results}
REF=$REPO/bench/.reference/dcgan/main.py
REF_COMMIT=""
[ -f "$REPO/bench/.reference/COMMIT" ] && REF_COMMIT=$(head -n1 "$REPO/bench/.reference/COMMIT")
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) DRY=1 ;;
    --out) OUT_DIR=$2; shift ;;
    --reference) REF=$2; shift ;;
    --reference-commit) REF_COMMIT=$2; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument $1 (see --help)"; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT_DIR" && OUT_DIR=$(cd "$OUT_DIR" && pwd) || exit 2
WORK=$(mktemp -d /tmp/gpu-check.XXXXXX)
exec > >(tee "$OUT_DIR/gpu_check.log") 2>&1
TEE=$!
trap 'rm -rf "$WORK"; exec 1>&- 2>&-; wait $TEE 2>/dev/null' EXIT
T0=$(date +%s)
cd "$REPO" || exit 2
export PYTHONUNBUFFERED=1 RAY_USAGE_STATS_ENABLED=0 MLFLOW_DISABLE_TELEMETRY=true
unset GANSEARCH_TEST_CUDA_STANDIN RAY_ADDRESS  # a real GPU run (the stand-in is test-only) on one local Ray
export GANSEARCH_CACHE_DIR=${GANSEARCH_CACHE_DIR:-/tmp/gansearch-gpu-check-cache}
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}  # gansearch from this tree, installed or not

phase() {  # phase NAME LIMIT_S CMD...: run CMD under timeout, record name, status, rc, seconds, limit
  local name=$1 limit=$2 s rc st
  shift 2
  s=$(date +%s)
  echo "=== [$(( s - T0 )) s] $name (limit ${limit} s): $*"
  timeout -k 10 "$limit" "$@"
  rc=$?
  st=ok
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then st=timeout; elif [ $rc -ne 0 ]; then st=failed; fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$st" "$rc" "$(( $(date +%s) - s ))" "$limit" >> "$WORK/phases.tsv"
  echo "=== $name: $st (rc $rc, $(( $(date +%s) - s )) s)"
  return $rc
}

# ---- 1. Python ---------------------------------------------------------------------------------------
PIPQ=(-m pip install -q --disable-pip-version-check --retries 1 --timeout 20)
WHEELS=${GANSEARCH_WHEELS:-$REPO/bench/.wheels}
if [ -n "${GANSEARCH_VENV:-}" ]; then
  PY=$GANSEARCH_VENV/bin/python; MODE="given venv (GANSEARCH_VENV), no install"
elif [ $DRY = 1 ]; then
  PY=${VIRTUAL_ENV:-$REPO/.venv}/bin/python; MODE="dry run: existing venv, no install"
else
  V=/tmp/gansearch-venv
  if phase venv 30 python3 -m venv --clear "$V"; then
    PY=$V/bin/python
    FL=(); [ -d "$WHEELS" ] && FL=(--find-links "$WHEELS")
    if phase install_torch 120 "$PY" "${PIPQ[@]}" "${FL[@]}" torch==2.14.1 torchvision==0.29.1 &&
       left=$(( 175 - ($(date +%s) - T0) )) && phase install_project $(( left > 15 ? left : 15 )) \
         "$PY" "${PIPQ[@]}" "${FL[@]}" -c constraints.txt -e "$REPO"; then
      MODE="pinned: torch==2.14.1 torchvision==0.29.1, project installed with constraints.txt"
    else
      echo "gpu_check: the pinned install failed (no package index?): using this machine's own packages"
      site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
      python3 -c 'import site; print("\n".join(site.getsitepackages()))' > "$site/zz_host_site.pth"
      MODE="host packages added (the pinned install failed or is incomplete): see env.pins_met"
    fi
  else
    PY=python3; MODE="host python3 (no venv could be made): the torch pins are NOT met"
  fi
  if [[ $MODE == host* ]] && compgen -G "$WHEELS/*.whl" > /dev/null; then
    if [ "$PY" = python3 ]; then
      phase install_wheels 60 python3 -m pip install -q --no-index --no-deps --target "$WORK/site" "$WHEELS"/*.whl
      export PYTHONPATH=$PYTHONPATH:$WORK/site
    else
      phase install_wheels 60 "$PY" -m pip install -q --no-index --no-deps "$WHEELS"/*.whl
    fi
  fi
fi
echo "gpu_check: python $PY ($MODE)"

"$PY" - > "$WORK/env.json" <<'EOF'
import json, platform, sys
from importlib import metadata
info = {"python": platform.python_version(), "executable": sys.executable, "cpu_count": __import__("os").cpu_count()}
try:
    import torch
    cuda = torch.cuda.is_available()
    info.update(torch=torch.__version__, torch_cuda=torch.version.cuda, cuda_available=cuda,
                gpu=torch.cuda.get_device_name(0) if cuda else None, bf16=torch.cuda.is_bf16_supported() if cuda else None)
except Exception as e:  # noqa: BLE001
    info["torch_error"] = f"{type(e).__name__}: {e}"
info["packages"] = {}
for p in ("torchvision", "ray", "optuna", "mlflow", "pydantic", "numpy", "scikit-learn", "gansearch"):
    try:
        info["packages"][p] = metadata.version(p)
    except metadata.PackageNotFoundError:
        info["packages"][p] = None
try:
    import gansearch.search.study  # noqa: F401 - what the packing phase needs
    info["gansearch_search_importable"] = True
except Exception as e:  # noqa: BLE001
    info["gansearch_search_importable"] = f"{type(e).__name__}: {e}"
info["pins_met"] = str(info.get("torch", "")).split("+")[0] == "2.14.1" and str(info["packages"]["torchvision"]).split("+")[0] == "0.29.1"
print(json.dumps(info))
EOF
[ -s "$WORK/env.json" ] || echo '{"error": "the environment probe failed"}' > "$WORK/env.json"
cat "$WORK/env.json"
{ nvidia-smi && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv; } \
  > "$WORK/nvidia-smi.txt" 2>&1 || echo "nvidia-smi unavailable" >> "$WORK/nvidia-smi.txt"

# ---- 2. trainer throughput against the reference -------------------------------------------------------
if [ -f "$REF" ]; then
  REF_ARGS=(--reference "$REF"); [ -n "$REF_COMMIT" ] && REF_ARGS+=(--reference-commit "$REF_COMMIT")
else
  REF_ARGS=(--no-reference)
  echo "gpu_check: the reference $REF is missing: timing ours alone (no reference runs, ratios null)"
fi
TT=(bench/trainer_throughput.py "${REF_ARGS[@]}" --note "bench/gpu_check.sh$([ $DRY = 1 ] && echo ' --dry-run')")
if [ $DRY = 1 ]; then  # plumbing only: two tiny CPU runs (compile would take minutes here: channels_last stands in)
  phase throughput 75 "$PY" "${TT[@]}" --device cpu --threads 1 --variants fp32 --rounds 1 --steps 2 --warmup 1 \
    --workers 0 --out "$OUT_DIR/gpu_check_throughput.json"
  phase throughput_compile 75 "$PY" "${TT[@]}" --device cpu --threads 1 --variants channels_last --rounds 1 --steps 2 \
    --warmup 1 --workers 0 --out "$OUT_DIR/gpu_check_throughput_compile.json"
else  # eager variants interleaved with the reference over 2 rounds; compile alone (its cold compile is the risk)
  phase throughput 75 "$PY" "${TT[@]}" --device cuda --variants fp32,bf16,bf16_channels_last --rounds 2 --steps 200 \
    --warmup 20 --workers 2 --timeout 40 --out "$OUT_DIR/gpu_check_throughput.json"
  phase throughput_compile 75 "$PY" "${TT[@]}" --device cuda --variants bf16_compile_channels_last --rounds 1 \
    --steps 200 --warmup 20 --workers 2 --timeout 60 --out "$OUT_DIR/gpu_check_throughput_compile.json"
fi

# ---- 3. packing 1/2/4/8 trials on the GPU, each trial's device against its Ray grant ------------------
if [ $DRY = 1 ]; then
  phase packing 170 "$PY" bench/gpu_packing.py --dry-run --out "$OUT_DIR"
else
  left=$(( 465 - ($(date +%s) - T0) ))
  limit=$(( left < 120 ? left : 120 ))
  if [ $limit -ge 30 ]; then
    phase packing $limit "$PY" bench/gpu_packing.py --out "$OUT_DIR" --budget-s $(( limit - 15 ))
  else
    printf 'packing\tskipped\t-\t0\t%s\n' "$limit" >> "$WORK/phases.tsv"
  fi
fi

# ---- 4. summary ------------------------------------------------------------------------------------------
export GC_REPO=$REPO GC_OUT=$OUT_DIR GC_WORK=$WORK GC_DRY=$DRY GC_MODE=$MODE GC_PY=$PY GC_REF=$REF GC_REF_COMMIT=$REF_COMMIT GC_T0=$T0
python3 - <<'EOF'
import datetime as dt, json, os, subprocess, time
from pathlib import Path
out, work = Path(os.environ["GC_OUT"]), Path(os.environ["GC_WORK"])
def load(p):
    try:
        return json.loads(Path(p).read_text())
    except (OSError, ValueError):
        return None
rows = (work / "phases.tsv").read_text().splitlines() if (work / "phases.tsv").exists() else []
phases = [{k: int(v) if v.lstrip("-").isdigit() and k != "name" else v
           for k, v in zip(("name", "status", "rc", "seconds", "limit_s"), l.split("\t"))} for l in rows]
headline = {}
for name in ("gpu_check_throughput", "gpu_check_throughput_compile"):
    r = load(out / f"{name}.json")
    if r:
        headline[name] = {k: r.get(k) for k in ("ours_images_per_s", "reference_images_per_s", "ratio_ours_default_vs_reference",
                                                 "ratio_ours_best_vs_reference", "ours_best_variant", "date")}
pk = load(out / "gpu_packing.json")
if pk:  # per k: throughput, utilisation, and whether every trial trained on the GPU Ray granted it
    def grant(s):
        g = s.get("grant_check")
        peaks = [t["gpu_peak_memory_mib"] for t in (g or {}).get("per_trial", []) if t.get("gpu_peak_memory_mib") is not None]
        return {"ok": g["ok"], "problems": g["problems"][:5], "trial_peak_mib_max": max(peaks, default=None)} if g else None
    headline["gpu_packing"] = {k: {f: s.get(f) for f in ("images_per_s_train_window", "images_per_s_study_wall", "error", "skipped")}
                               | {"gpu_util_train_window": (s.get("gpu") or {}).get("train_window"), "grant_check": grant(s)}
                               for k, s in pk.get("studies", {}).items()}
    checked = [s["grant_check"]["ok"] for s in headline["gpu_packing"].values() if s["grant_check"]]
    headline["grant_check_ok"] = all(checked) if checked else None
try:
    git = subprocess.run(["git", "-C", os.environ["GC_REPO"], "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    git = ""
ref = os.environ["GC_REF"]
summary = {
    "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "dry_run": os.environ["GC_DRY"] == "1",
    "wall_s": int(time.time()) - int(os.environ["GC_T0"]), "commit": git or None,
    "install": {"mode": os.environ["GC_MODE"], "python": os.environ["GC_PY"]}, "env": load(work / "env.json"),
    "nvidia_smi": (work / "nvidia-smi.txt").read_text() if (work / "nvidia-smi.txt").exists() else None,
    "reference": {"path": ref, "present": Path(ref).is_file(), "commit": os.environ["GC_REF_COMMIT"] or None},
    "phases": phases, "headline": headline,
    "files": sorted({p.name for p in out.glob("gpu_*") if p.is_file()} | {"gpu_check.json"}),
}
(out / "gpu_check.json").write_text(json.dumps(summary, indent=2) + "\n")
print(json.dumps({k: summary[k] for k in ("dry_run", "wall_s", "install", "phases", "headline")}, indent=1))
EOF
echo "gpu_check: done in $(( $(date +%s) - T0 )) s; results in $OUT_DIR"
