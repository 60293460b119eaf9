"""``pose3d-export``: copy a trained lifter (card + safetensors) into models/, optionally as fp16."""
from __future__ import annotations

import argparse
from pathlib import Path

from pose3d_ros.networks.cards import load_model, save_model

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MAX_MB = 20.0


def export(checkpoint: str | Path, name: str | None = None, half: bool = False,
           models_dir: Path = MODELS_DIR) -> Path:
    """Re-save a model card and its weights under models_dir; returns the new card's path."""
    loaded = load_model(checkpoint)
    path = save_model(loaded.model, models_dir / f"{name or loaded.path.stem}.json", loaded.card, half=half)
    size_mb = path.with_suffix(".safetensors").stat().st_size / 2 ** 20
    if size_mb > MAX_MB:
        raise SystemExit(f"{path.with_suffix('.safetensors')} is {size_mb:.1f} MB, over the {MAX_MB:.0f} MB "
                         "budget of shipped models: export with --half or train a smaller model")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pose3d-export", description=__doc__)
    parser.add_argument("--checkpoint", required=True, help="model card (.json) of a trained lifter")
    parser.add_argument("--name", help="file name stem in models/ (default: the checkpoint's)")
    parser.add_argument("--half", action="store_true", help="store the weights as fp16")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)
    print(f"exported to {export(args.checkpoint, args.name, args.half, args.models_dir)}")


if __name__ == "__main__":
    main()
