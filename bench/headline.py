"""The ring8/grid25 headline numbers from finished `gansearch run` studies of the shipped search spaces.

Its published result is withdrawn (issue 25; bench/results/headline_search.json says why): the search
picked and reported on the same seeds, with networks and a latent unlike PacGAN's. The like-for-like
comparison is bench/pacgan_like.py.

For each study folder: the rerun configurations (search.rerun_top_k) with modes covered and high-quality
share at each fresh seed's last evaluation (mean ± std), and the search's worst trials beside them, next to
the published references (PacGAN with 4-packing; VEEGAN's vanilla GAN). Writes
bench/results/headline_search.json (one entry per study, keyed by the space file's name).

  gansearch run search_spaces/ring8-search.yaml --out studies/ring8-search
  python bench/headline.py studies/ring8-search [studies/grid25-search ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# PacGAN (Lin et al. 2018), Table 2/3, PacGAN4; VEEGAN (Srivastava et al. 2017), the vanilla GAN's modes
REFERENCES = {"ring8": {"pacgan4": {"modes": 7.8, "hq_percent": 95.9}, "veegan_vanilla_gan": {"modes": 1.0}},
              "grid25": {"pacgan4": {"modes": 24.8, "hq_percent": 93.6}, "veegan_vanilla_gan": {"modes": 3.3}}}


def last_record(folder: Path) -> dict[str, Any]:
    lines = [x for x in (folder / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return json.loads(lines[-1])


def _mean_std(xs: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0}


def headline(study: Path, worst: int = 3) -> dict[str, Any]:
    space = json.loads((study / "space.json").read_text())
    summary = json.loads((study / "summary.json").read_text())
    configs = []
    for r in summary.get("reruns") or []:
        seeds = []
        for run in r["runs"]:
            rec = last_record(study / "trials" / run["key"])
            seeds.append({"seed": run["seed"], "step": rec["step"], "modes": rec["modes_covered"],
                          "hq_percent": 100 * rec["hq_fraction"], "reverse_kl": rec["reverse_kl"], "status": run["status"]})
        configs.append({"key": r["key"], "params": r["params"], "seeds": seeds,
                        "modes": _mean_std([s["modes"] for s in seeds]),
                        "hq_percent": _mean_std([s["hq_percent"] for s in seeds])})
    trials = []
    for t in summary["trials"]:
        rec = last_record(study / "trials" / t["key"])
        trials.append({"key": t["key"], "status": t["status"], "step": rec["step"], "modes": rec.get("modes_covered"),
                       "hq_percent": None if rec.get("hq_fraction") is None else 100 * rec["hq_fraction"],
                       "loss": t["params"].get("loss"), "balance": t["params"].get("balance")})
    return {"study": str(study), "space": space.get("name"), "data": space["data"]["name"],
            "train_steps": space["train"]["steps"], "num_trials": summary["num_trials"],
            "statuses": {k: v for k, v in summary.items() if k.startswith("trials_")},
            "best": configs[0] if configs else None, "reruns": configs, "worst": trials[-worst:],
            "references": REFERENCES.get(space["data"]["name"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("studies", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "headline_search.json")
    args = ap.parse_args()
    out = json.loads(args.out.read_text()) if args.out.exists() else {}
    for study in args.studies:
        h = headline(study)
        out[h["space"]] = h
        b = h["best"]
        if b:
            print(f"{h['space']}: best {b['key']} {b['params']}\n  modes {b['modes']['mean']:.2f} ± {b['modes']['std']:.2f}, "
                  f"high quality {b['hq_percent']['mean']:.1f} ± {b['hq_percent']['std']:.1f} % over {len(b['seeds'])} "
                  f"fresh seeds; references {h['references']}")
        for w in h["worst"]:
            print(f"  worst: {w['key']} {w['status']} at step {w['step']}: {w['modes']} modes ({w['loss']}, {w['balance']})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
