"""training/RESULTS.md and the plots under training/results/, generated from eval records.

Never edit RESULTS.md by hand: ``pose3d-eval`` rewrites it from every
training/results/*.json record each time it runs. Links assume results/ sits beside RESULTS.md.
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pose3d_ros.networks.cards import LifterCard  # noqa: E402
from pose3d_ros.skeleton import get_layout  # noqa: E402

from .config import Reference, TrainingConfig, load_config  # noqa: E402


def _reference(record: dict, records: list[dict]) -> dict:
    """The paper's numbers for this record. When the paper's 2D input (``inputs``) differs from ours
    they are kept for scale, and left out where the same model also has a row on the paper's input."""
    ref = record.get("reference") or {}
    paper_input = ref.get("inputs", record["input"])
    if paper_input == record["input"]:
        return ref
    if any(r["model"] == record["model"] and r["input"] == paper_input for r in records):
        return {"source": f"{ref.get('source', '')} (paper row on {paper_input} 2D: see that row)"}
    return dict(ref, source=f"{ref.get('source', '')} (paper on {paper_input} 2D, ours on {record['input']}: "
                            "for scale only)")


def _fmt(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


LIMBS = (("upper arm", "elbow"), ("lower arm", "wrist"), ("upper leg", "knee"), ("lower leg", "ankle"))
"""Limb bones as the structure papers name them, and the child joint that names each bone here."""


def limb_structure(structure: dict) -> dict:
    """Per limb (left and right averaged) and over the eight limb bones: bone length RMSE against
    the truth (Tang et al. Table 3), bone length std over frames and left/right length difference
    (Dabral et al. Table 6), all mm; plus the share of illegal elbow/knee bends (%) when measured."""
    rmse, std = structure["bone_rmse_mm"], structure["bone_std_mm"]
    out = {}
    for limb, joint in LIMBS:
        out[limb] = {"rmse": (rmse[f"l_{joint}"] + rmse[f"r_{joint}"]) / 2,
                     "std": (std[f"l_{joint}"] + std[f"r_{joint}"]) / 2,
                     "symmetry": structure["symmetry_mm"][joint]}
    out["avg"] = {k: sum(out[limb][k] for limb, _ in LIMBS) / len(LIMBS) for k in ("rmse", "std", "symmetry")}
    out["illegal_bend_pct"] = structure.get("illegal_bend_pct")
    return out


def _structure_table(records: list[dict]) -> list[str]:
    rows = [r for r in records if "structure" in r["metrics"]]
    if not rows:
        return []
    lines = ["", "## Structure", "",
             "Limb bone length RMSE against the truth (Tang et al. Table 3: the mean over the eight limb bones),",
             "each bone's length standard deviation over a sequence's frames and the left/right length",
             "difference (Dabral et al. Table 6, there on MPI-INF-3DHP, which is not available here), in mm,",
             "left and right averaged per limb; and the share of elbows and knees bent the wrong way.", "",
             "| model | data | 2D input | RMSE upper arm | lower arm | upper leg | lower leg | RMSE avg "
             "| paper RMSE avg | std avg | L/R diff avg | illegal bends (%) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        limbs = limb_structure(r["metrics"]["structure"])
        cells = " | ".join(_fmt(limbs[limb]["rmse"]) for limb, _ in LIMBS)
        paper = (_reference(r, records).get("structure") or {}).get("limb_rmse_mm")
        lines.append(f"| {r['model']} | {r['dataset']} | {r['input']} | {cells} | {_fmt(limbs['avg']['rmse'])} | "
                     f"{_fmt(paper)} | {_fmt(limbs['avg']['std'])} | {_fmt(limbs['avg']['symmetry'])} | "
                     f"{_fmt(limbs['illegal_bend_pct'], 2)} |")
    return lines


PAPERS = (("videopose", "Pavllo et al. 2019, VideoPose3D (the baseline)"),
          ("chen", "Chen et al. 2021, anatomy-aware"),
          ("wang", "Wang et al. 2020, UGCN + motion loss"),
          ("xu", "Xu et al. 2020, deep kinematics analysis"),
          ("dabral", "Dabral et al. 2018, structure and motion (TP-Net)"),
          ("tang", "Tang et al., articulated structure-aware network"))
"""Config-name prefix of each seed paper's configs (training/configs/<prefix>_*.yaml), and its title."""


def _paper_mean(ref: Reference, key: str, actions: dict) -> tuple[float | None, float | None]:
    """(paper, ours) for ``key``: the paper's overall number, else the mean over the actions it
    lists (HumanEva tables), ours over the same actions."""
    if getattr(ref, key) is not None:
        return getattr(ref, key), None
    listed = [a for a, v in ref.actions.items() if key in v]
    if not listed:
        return None, None
    paper = sum(ref.actions[a][key] for a in listed) / len(listed)
    ours = [actions[a][key] for a in listed if a in actions]
    return paper, (sum(ours) / len(ours) if len(ours) == len(listed) else None)


def paper_tables(configs: list[TrainingConfig], records: list[dict]) -> list[str]:
    """One table per seed paper: every config of its rows, the paper's numbers and ours where
    the config has been trained and evaluated on its own 2D input."""
    lines = []
    for prefix, title in PAPERS:
        rows = sorted((c for c in configs if c.name.startswith(prefix + "_")), key=lambda c: c.name)
        if not rows:
            continue
        lines += [f"### {title}", "",
                  "| config | paper row | paper 2D | paper P1 | paper P2 | paper MPJVE | our 2D | P1 | P2 | MPJVE "
                  "| training |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for c in rows:
            ref, ours_input = c.reference or Reference(source="–"), c.data.inputs
            rec = next((r for r in records if r["model"] == c.name and r["input"] == ours_input
                        and r["dataset"] == c.data.dataset), None)
            m = rec["metrics"] if rec else {}
            p2_paper, p2_listed = _paper_mean(ref, "p2_mm", m.get("actions", {}))
            p2_ours = p2_listed if p2_listed is not None else m.get("p2_mm")
            tr = (rec or {}).get("training") or {}
            trained = f"{tr.get('epochs', '–')} epochs, {tr.get('hours', '–')} h" if rec else "not run"
            lines.append(f"| {c.name} | {ref.source} | {ref.inputs or '–'} | "
                         f"{_fmt(ref.p1_mm)} | {_fmt(p2_paper)} | {_fmt(ref.mpjve_mm, 2)} | "
                         f"{ours_input} | {_fmt(m.get('p1_mm'))} | {_fmt(p2_ours)} | {_fmt(m.get('mpjve_mm'), 2)} | "
                         f"{trained} |")
        lines.append("")
    if not lines:
        return []
    return ["", "## Paper tables", "",
            "Every config of a seed paper's rows (training/configs), the paper's numbers and ours on the",
            "config's own data. HumanEva rows: P2 is the mean over the subject-action rows the paper lists.",
            "Rows not yet run are the full-size configs for a GPU session (docs/seed_models.md).", ""] + lines[:-1]


def read_configs(configs_dir: Path) -> list[TrainingConfig]:
    """Every training config in ``configs_dir`` (none when it does not exist)."""
    return [load_config(p) for p in sorted(configs_dir.rglob("*.yaml"))] if configs_dir.is_dir() else []


def write_plots(record: dict, card: LifterCard, out_dir: Path) -> list[Path]:
    """Per-joint error bars for this evaluation and the model's training curve."""
    stem = f"{record['model']}__{record['dataset']}_{record['input']}"
    paths = [out_dir / f"{stem}_joints.png"]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    names = get_layout(record.get("layout", "h36m17")).joint_names
    ax.bar(names, record["metrics"]["per_joint_p1_mm"], color="#4878d0")
    ax.set_ylabel("P1 (mm)")
    ax.set_title(f"{record['model']}: per-joint error, {record['dataset']} {record['input']} 2D")
    ax.tick_params(axis="x", rotation=60, labelsize=8)
    fig.tight_layout()
    fig.savefig(paths[0], dpi=90)
    plt.close(fig)
    history = card.training.get("history", [])
    if history:
        paths.append(out_dir / f"{record['model']}_training.png")
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot([h["epoch"] for h in history], [h["train_mpjpe_mm"] for h in history], marker="o", label="train")
        ax.axhline(record["metrics"]["p1_mm"], color="#d65f5f", linestyle="--", label="test P1 (final)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("MPJPE (mm)")
        ax.set_title(f"{record['model']}: training")
        ax.legend()
        fig.tight_layout()
        fig.savefig(paths[1], dpi=90)
        plt.close(fig)
    return paths


def _records(results_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))]


def render_results(records: list[dict], results_dir: Path, configs: list[TrainingConfig] = ()) -> str:
    lines = [
        "# Results",
        "",
        "Generated by `pose3d-eval` from training/results/*.json: do not edit by hand.",
        "Human3.6M: subjects S9 and S11, all four cameras, 17 joints, root-relative; HumanEva-I:",
        "Validate split, cameras C1-C3, 15 joints, Walk/Jog/Box per subject. P1 = MPJPE,",
        "P2 = P-MPJPE (Procrustes-aligned), both averaged over the table's rows as in the papers;",
        "MPJVE in mm per frame. Paper numbers are copied from the publication named.",
        "",
        "**Data note:** the shared copy of Human3.6M lacks five sequences, among them the test",
        "sequence S9 'Discussion 1' (about 4 % of the test frames): every number here is on the",
        "remaining test frames, so it is close to but not the same protocol as the papers'.",
        "",
        "## Summary",
        "",
        "| model | data | 2D input | frames | causal | P1 (mm) | P2 (mm) | MPJVE | PCK@150 "
        "| paper P1 | paper P2 | paper | training |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        m, ref, tr = r["metrics"], _reference(r, records), r.get("training") or {}
        lines.append(
            f"| {r['model']} | {r['dataset']} | {r['input']} | {r['receptive_field']} | "
            f"{'yes' if r['causal'] else 'no'} | "
            f"{_fmt(m['p1_mm'])} | {_fmt(m['p2_mm'])} | {_fmt(m['mpjve_mm'], 2)} | {_fmt(m.get('pck150'))} | "
            f"{_fmt(ref.get('p1_mm'))} | {_fmt(ref.get('p2_mm'))} | {ref.get('source', 'none given')} | "
            f"{tr.get('epochs', '–')} epochs, {tr.get('hours', '–')} h, {tr.get('hardware', '–')} |")
    lines += _structure_table(records)
    lines += paper_tables(list(configs), records)
    for r in records:
        ref_actions = _reference(r, records).get("actions", {})
        lines += ["", f"## {r['model']} ({r['dataset']}, {r['input']} 2D)", "",
                  f"Command: `{r['command']}`  ", f"Evaluated on: {r['hardware']}, {r['eval_seconds']} s.", "",
                  "| action | frames | P1 (mm) | P2 (mm) | MPJVE | paper P1 | paper P2 |",
                  "|---|---|---|---|---|---|---|"]
        for action, a in r["metrics"]["actions"].items():
            ref = ref_actions.get(action, {})
            lines.append(f"| {action} | {a['frames']} | {_fmt(a['p1_mm'])} | {_fmt(a['p2_mm'])} | "
                         f"{_fmt(a['mpjve_mm'], 2)} | {_fmt(ref.get('p1_mm'))} | {_fmt(ref.get('p2_mm'))} |")
        stem = f"{r['model']}__{r['dataset']}_{r['input']}"
        lines += ["", f"![per-joint error]({results_dir.name}/{stem}_joints.png)"]
        if (results_dir / f"{r['model']}_training.png").is_file():
            lines.append(f"![training curve]({results_dir.name}/{r['model']}_training.png)")
        if (r.get("reference") or {}).get("note"):
            lines += ["", f"Note: {r['reference']['note']}"]
    return "\n".join(lines) + "\n"


def write_results_md(results_dir: Path) -> Path:
    """Render RESULTS.md beside ``results_dir`` (training/RESULTS.md for training/results), with
    the paper tables of the configs beside it (training/configs)."""
    path = results_dir.parent / "RESULTS.md"
    path.write_text(render_results(_records(results_dir), results_dir, read_configs(results_dir.parent / "configs")))
    return path
