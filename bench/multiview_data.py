"""Data of the multi-view benchmark (bench/multiview.py): per-camera detection caches, frame
offsets, the cross-view person association, the triangulated reference and the per-demo cache.

    PYTHONPATH=$PWD .venv/bin/python bench/multiview_data.py   # fetch, detect, build both caches

Per-demo cache .cache/multiview/<demo>.npz (<demo>_<backend>.npz for a backend other than
mediapipe); demo: Trial_1 (one person) or MultiPerson (two). F frames (cam01's), P reference
people (people triangulated in two views or more, numbered by 3D tracking over frames). Float
arrays are NaN where missing. "Camera frame": cam01's optical frame (x right, y down, z forward),
metres. Index [:, p] is reference person p (Trial_1: P = 1, use [:, 0]).

    keypoints      (F, P, 17, 2)  cam01 H36M-17 2D of the detection matched to person p, pixels of the
                                  full calibrated image; detected on frames resized to detect_width
                                  (the pipeline's resize_width), as the robot's chain sees them
    confidence     (F, P, 17)     its 2D confidence, 0 where not found
    world          (F, P, 17, 3)  its detector 3D (MediaPipe world landmarks as H36M-17), metres,
                                  pelvis at the origin, camera axes
    found          (F, P)         bool: cam01 has a detection matched to person p in frame f
    track_id       (F, P)         that detection's track id, -1 where none
    ref_others     (F, P, 17, 3)  reference 3D from the OTHER views (cam02-04), camera frame
    ref_others_err (F, P, 17)     mean re-projection error of its inlier views, pixels
    ref_all        (F, P, 17, 3)  reference 3D from all four views, camera frame
    ref_all_err    (F, P, 17)     likewise
    K (3, 3), dist (5,) (OpenCV k1 k2 p1 p2 k3), size (2,) (width, height): cam01's calibration
    fps (), detect_width ()       cam01's frame rate; width the 2D was detected at
    R_world (3, 3), t_world (3,)  X_cam01 = R_world @ X_world + t_world (world: z up, metres)
    offsets (4,)                  frame offsets of cam01..cam04 found by epipolar consistency:
                                  camera c's frame f + offsets[c] shows cam01's frame f

A joint is triangulated (robust DLT over view pairs, see pose3d_ros/triangulation.py) from the
views whose 2D confidence is >= MIN_CONFIDENCE and whose re-projection error is within
THRESHOLD_PX; NaN where fewer than two views agree. A view whose detector swapped left and
right (BlazePose does, seen from behind) has its labels mirrored first when the mirrored labels
agree better with the other views. Per-camera detection caches:
.cache/multiview/<demo>/detections/<backend>_w<width>_<camera>.npz with keypoints (F, N, 17, 2)
full-image pixels, confidence (F, N, 17), world (F, N, 17, 3), track_id (F, N) (N: the most
people in one frame; padded with NaN / 0 / -1); width 0: full resolution (the reference views).
"""
from __future__ import annotations

import subprocess
import sys
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pose3d_ros.calibration import CalibratedCamera, read_qualisys  # noqa: E402
from pose3d_ros.detection import create_detector  # noqa: E402
from pose3d_ros.geometry import normalize_with_intrinsics, pitch_roll, project  # noqa: E402
from pose3d_ros.skeleton import H36M17  # noqa: E402
from pose3d_ros.triangulation import epipolar_distance, triangulate  # noqa: E402
from pose3d_ros.video import FrameSource  # noqa: E402

CACHE = ROOT / ".cache" / "multiview"
DEMOS = ("Trial_1", "MultiPerson")
CAMERAS = ("cam01", "cam02", "cam03", "cam04")
EVAL_CAMERA = "cam01"
MIN_CONFIDENCE = 0.3  # 2D observations below this do not enter the triangulation
THRESHOLD_PX = 20.0  # a view is an inlier of a triangulated joint within this re-projection error
ASSOCIATION_PX = 40.0  # two people in two views are the same person within this median epipolar distance
MATCH_FRACTION = 0.1  # a cam01 detection is a reference person within this share of the image height


def fetch() -> None:
    """The recordings, from the pose2sim wheel (scripts/fetch_multiview.py) unless already there."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_multiview.py")], check=True)


def cameras(demo: str) -> dict[str, CalibratedCamera]:
    """The demo's calibrated cameras, with each image size taken from its video. Some videos are
    a few pixels narrower than the calibrated window (1080 of 1088): the encoder cropped the
    right/bottom edge, so the principal point is kept and only the size changes."""
    from dataclasses import replace
    cams = read_qualisys(CACHE / demo / "Calib.qca.txt")
    for name, cam in cams.items():
        cap = cv2.VideoCapture(str(CACHE / demo / "videos" / f"{name}.mp4"))
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.release()
        if (width, height) != (cam.intrinsics.width, cam.intrinsics.height):
            cams[name] = replace(cam, intrinsics=replace(cam.intrinsics, width=width, height=height))
    return cams


def camera_tilt(cam: CalibratedCamera) -> dict[str, float]:
    """The lifter node's ``camera_pitch_deg`` and ``camera_roll_deg`` for a camera of the rig (its
    world's z is up), as a robot knows how its camera is mounted."""
    pitch, roll = pitch_roll(cam.rotation[:, 2])
    return {"camera_pitch_deg": round(pitch, 2), "camera_roll_deg": round(roll, 2)}


def video_fps(demo: str, camera: str = EVAL_CAMERA) -> float:
    return FrameSource(str(CACHE / demo / "videos" / f"{camera}.mp4")).fps


def detections(demo: str, camera: str, backend: str = "mediapipe", width: int = 0) -> dict[str, np.ndarray]:
    """Every frame of one camera through the detector (``width`` > 0: frames resized to it first,
    as video_source does; keypoints scaled back to full-image pixels), cached."""
    path = CACHE / demo / "detections" / f"{backend}_w{width}_{camera}.npz"
    if path.is_file():
        return dict(np.load(path))
    source = FrameSource(str(CACHE / demo / "videos" / f"{camera}.mp4"), width)
    detector = create_detector(backend)
    frames = []
    scale = None
    while (bgr := source.read()) is not None:
        if scale is None:
            full = FrameSource(str(CACHE / demo / "videos" / f"{camera}.mp4")).read().shape
            scale = np.array([full[1] / bgr.shape[1], full[0] / bgr.shape[0]])
        frames.append(detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    detector.close()
    n = max(1, max(len(f) for f in frames))
    out = {"keypoints": np.full((len(frames), n, 17, 2), np.nan, np.float32),
           "confidence": np.zeros((len(frames), n, 17), np.float32),
           "world": np.full((len(frames), n, 17, 3), np.nan, np.float32),
           "track_id": np.full((len(frames), n), -1, np.int64)}
    for f, dets in enumerate(frames):
        for p, det in enumerate(dets):
            out["keypoints"][f, p] = det.keypoints * scale
            out["confidence"][f, p] = det.confidence
            if det.world is not None:
                out["world"][f, p] = det.world
            out["track_id"][f, p] = det.track_id
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    return out


def estimate_offsets(cams: list[CalibratedCamera], xy: list[np.ndarray], conf: list[np.ndarray],
                     max_shift: int = 15, cap: float = 50.0) -> np.ndarray:
    """Frame offsets (V,) of the views, the first fixed at 0 (view v's frame f + offsets[v] shows
    the first view's frame f): the offsets minimising the summed epipolar inconsistency of all view
    pairs (views that agree with no other view at any shift stay at 0). A pair's cost at shift s:
    over frames, the per-frame median epipolar distance (pixels, joints confident in both) of the
    best-matching pair of people, capped at ``cap`` so that frames showing different people weigh
    the same whatever the shift."""
    n_views = len(cams)
    shifts = np.arange(-max_shift, max_shift + 1)
    cost = {}
    for a, b in combinations(range(n_views), 2):
        curve = []
        for s in shifts:
            fa = np.arange(len(xy[a]))
            fa = fa[(fa + s >= 0) & (fa + s < len(xy[b]))]
            d = epipolar_distance(cams[a], xy[a][fa][:, :, None], cams[b], xy[b][fa + s][:, None])
            ok = (conf[a][fa][:, :, None] >= 0.5) & (conf[b][fa + s][:, None] >= 0.5)
            d = np.sort(np.where(ok & np.isfinite(d), d, np.inf), axis=-1)
            count = ok.sum(-1)
            lower_median = np.take_along_axis(d, np.maximum(count - 1, 0)[..., None] // 2, -1)[..., 0]
            med = np.where(count >= 3, lower_median, np.inf)
            best = med.reshape(len(fa), -1).min(axis=1) if med.size else np.full(len(fa), np.inf)
            curve.append(np.mean(np.minimum(best, cap)) if len(fa) else cap)
        cost[a, b] = np.array(curve)
    # A view no pair agrees with at any shift (it saw someone else) cannot be timed: keep it at 0.
    timed = [min(curve.min() for pair, curve in cost.items() if v in pair) < cap / 2 for v in range(1, n_views)]
    grid = np.stack(np.meshgrid(*(shifts if t else np.zeros(1, int) for t in timed), indexing="ij"),
                    -1).reshape(-1, n_views - 1)
    offsets = np.concatenate([np.zeros((len(grid), 1), int), grid], axis=1)
    total = np.zeros(len(grid))
    for (a, b), curve in cost.items():
        rel = offsets[:, b] - offsets[:, a]
        total += np.where(np.abs(rel) <= max_shift, curve[np.clip(rel + max_shift, 0, len(shifts) - 1)], cap)
    return offsets[int(np.argmin(total))]


def _pair_distance(cam_a, xy_a, conf_a, cam_b, xy_b, conf_b) -> float:
    """Median symmetric epipolar distance (pixels) of two people's confident joints."""
    ok = (conf_a >= 0.5) & (conf_b >= 0.5)
    if ok.sum() < 3:
        return np.inf
    d = 0.5 * (epipolar_distance(cam_a, xy_a[ok], cam_b, xy_b[ok])
               + epipolar_distance(cam_b, xy_b[ok], cam_a, xy_a[ok]))
    return float(np.median(d))


def associate(cams: list[CalibratedCamera], xy: list[np.ndarray], conf: list[np.ndarray]) -> list[dict[int, int]]:
    """People of one frame across views: xy[v] (N_v, 17, 2) normalised, conf[v] (N_v, 17). Greedy
    merging of the most epipolar-consistent pairs (below ASSOCIATION_PX), never two people of one
    view in one group. Returns the groups seen in two views or more, as {view: person}."""
    pairs = []
    for a, b in combinations(range(len(cams)), 2):
        for p in range(len(xy[a])):
            for q in range(len(xy[b])):
                d = _pair_distance(cams[a], xy[a][p], conf[a][p], cams[b], xy[b][q], conf[b][q])
                if d < ASSOCIATION_PX:
                    pairs.append((d, (a, p), (b, q)))
    group_of: dict[tuple[int, int], int] = {}
    groups: list[dict[int, int]] = []
    for _, u, v in sorted(pairs):
        gu, gv = group_of.get(u), group_of.get(v)
        if gu is None and gv is None:
            group_of[u] = group_of[v] = len(groups)
            groups.append({u[0]: u[1], v[0]: v[1]})
        elif gu is not None and gv is not None:
            if gu != gv and not set(groups[gu]) & set(groups[gv]):
                groups[gu].update(groups[gv])
                for key in list(group_of):
                    if group_of[key] == gv:
                        group_of[key] = gu
                groups[gv] = {}
        else:
            g, (view, person) = (gu, v) if gu is not None else (gv, u)
            if view not in groups[g]:
                groups[g][view] = person
                group_of[(view, person)] = g
    return [g for g in groups if len(g) >= 2]


def orient_left_right(cams: list[CalibratedCamera], xy: np.ndarray, conf: np.ndarray, views: list[int]) -> set[int]:
    """The views of one person (xy (V, 17, 2) normalised, conf (V, 17)) whose detector swapped left
    and right (BlazePose does, seen from behind): a view is flipped when its mirrored labels agree
    better (median epipolar distance) with the other views, two passes over the views."""
    perm = H36M17.flip_permutation()
    flipped: set[int] = set()

    def disagreement(v: int, mirror: bool) -> float:
        x, c = (xy[v][perm], conf[v][perm]) if mirror else (xy[v], conf[v])
        d = []
        for u in views:
            if u != v:
                xu, cu = (xy[u][perm], conf[u][perm]) if u in flipped else (xy[u], conf[u])
                d.append(_pair_distance(cams[u], xu, cu, cams[v], x, c))
        return float(np.median(d))

    for _ in range(2):
        for v in views:
            if disagreement(v, v not in flipped) < disagreement(v, v in flipped):
                flipped ^= {v}
    return flipped


def _triangulate_group(cams, kp, conf, views: list[int]):
    """Robust triangulation of one person's 17 joints from ``views``: (17, 3) world, (17,) errors."""
    if len(views) < 2:
        return np.full((17, 3), np.nan), np.full(17, np.nan)
    tri = triangulate([cams[v] for v in views], kp[views][:, None], conf[views][:, None],
                      MIN_CONFIDENCE, THRESHOLD_PX)
    return tri.points[0], tri.errors[0]


def reference(demo: str, backend: str = "mediapipe", eval_width: int = 640) -> dict[str, np.ndarray]:
    """The demo's cache (format in the module docstring), built from the per-camera detection caches."""
    calib = cameras(demo)
    cams = [calib[c] for c in CAMERAS]
    dets = [detections(demo, c, backend) for c in CAMERAS]
    xy = [normalize_with_intrinsics(d["keypoints"], c.intrinsics, np.float64) for d, c in zip(dets, cams)]
    conf = [np.where(np.isfinite(d["keypoints"][..., 0]), d["confidence"], 0.0) for d in dets]
    offsets = estimate_offsets(cams, xy, conf)
    n_frames = len(dets[0]["keypoints"])
    flip = H36M17.flip_permutation()
    people: list[dict] = []  # reference people: last centre (world) and frame
    ref_all, ref_others, err_all, err_others = ({} for _ in range(4))
    for f in range(n_frames):
        frame = [f + int(o) for o in offsets]
        present = [v for v in range(len(cams)) if 0 <= frame[v] < len(dets[v]["keypoints"])]
        xs = [xy[v][frame[v]] if v in present else np.zeros((0, 17, 2)) for v in range(len(cams))]
        cs = [conf[v][frame[v]] if v in present else np.zeros((0, 17)) for v in range(len(cams))]
        keep = [np.flatnonzero(c.max(axis=1) > 0) for c in cs]
        groups = associate(cams, [x[k] for x, k in zip(xs, keep)], [c[k] for c, k in zip(cs, keep)])
        found = []
        for g in sorted(groups, key=len, reverse=True):
            kp = np.zeros((len(cams), 17, 2))
            cf = np.zeros((len(cams), 17))
            xg = np.zeros((len(cams), 17, 2))
            for v, p in g.items():
                kp[v] = dets[v]["keypoints"][frame[v], keep[v][p]]
                cf[v] = cs[v][keep[v][p]]
                xg[v] = xs[v][keep[v][p]]
            views = sorted(g)
            for v in orient_left_right(cams, xg, cf, views):
                kp[v], cf[v] = kp[v][flip], cf[v][flip]
            pts_all, e_all = _triangulate_group(cams, kp, cf, views)
            pts_oth, e_oth = _triangulate_group(cams, kp, cf, [v for v in views if v != 0])
            if np.all(np.isnan(pts_all)):
                continue
            found.append((np.nanmean(pts_all, axis=0), pts_all, e_all, pts_oth, e_oth))
        taken: set[int] = set()
        for centre, pts_all, e_all, pts_oth, e_oth in found:
            dist = [np.linalg.norm(p["centre"] - centre) if i not in taken and f - p["frame"] <= 30 else np.inf
                    for i, p in enumerate(people)]
            i = int(np.argmin(dist)) if dist and min(dist) < 0.8 else len(people)
            if i == len(people):
                people.append({})
            people[i].update(centre=centre, frame=f)
            taken.add(i)
            ref_all[f, i], err_all[f, i], ref_others[f, i], err_others[f, i] = pts_all, e_all, pts_oth, e_oth
    n_people = max(1, len(people))
    cam = cams[0]
    out = {name: np.full((n_frames, n_people, 17, 3), np.nan) for name in ("ref_all", "ref_others")}
    out.update({name: np.full((n_frames, n_people, 17), np.nan) for name in ("ref_all_err", "ref_others_err")})
    for (f, i), pts in ref_all.items():
        out["ref_all"][f, i] = cam.to_camera(pts)
        out["ref_all_err"][f, i] = err_all[f, i]
        out["ref_others"][f, i] = cam.to_camera(ref_others[f, i])
        out["ref_others_err"][f, i] = err_others[f, i]
    out.update(_eval_camera(demo, backend, eval_width, cam, out["ref_all"]))
    out.update(K=cam.intrinsics.matrix, dist=np.array(cam.intrinsics.distortion, float),
               size=np.array([cam.intrinsics.width, cam.intrinsics.height]), fps=np.float64(video_fps(demo)),
               detect_width=np.int64(eval_width), R_world=cam.rotation, t_world=cam.translation,
               offsets=np.asarray(offsets, np.int64))
    return out


def match_people(keypoints: np.ndarray, confidence: np.ndarray, cam: CalibratedCamera, ref_cam: np.ndarray,
                 max_px: float) -> list[int]:
    """Reference person (index into ref_cam (P, 17, 3), camera frame) of each detected person
    (keypoints (N, 17, 2), confidence (N, 17)) by the median pixel distance of the confident joints
    to the reference's projection; greedy, nearest first; -1 where none is within ``max_px``."""
    proj = project(ref_cam, cam.intrinsics)  # (P, 17, 2)
    dist = np.full((len(keypoints), len(ref_cam)), np.inf)
    for n in range(len(keypoints)):
        ok = confidence[n] >= MIN_CONFIDENCE
        for p in range(len(ref_cam)):
            d = np.linalg.norm(keypoints[n] - proj[p], axis=-1)[ok]
            d = d[np.isfinite(d)]
            if len(d) >= 3:
                dist[n, p] = np.median(d)
    match = [-1] * len(keypoints)
    for n, p in sorted(np.argwhere(dist < max_px).tolist(), key=lambda np_: dist[np_[0], np_[1]]):
        if match[n] == -1 and p not in match:
            match[n] = p
    return match


def _eval_camera(demo: str, backend: str, width: int, cam: CalibratedCamera, ref_cam: np.ndarray) -> dict:
    """cam01's detections at the pipeline's resolution, each matched to a reference person."""
    det = detections(demo, EVAL_CAMERA, backend, width)
    n_frames, n_people = ref_cam.shape[:2]
    out = {"keypoints": np.full((n_frames, n_people, 17, 2), np.nan), "confidence": np.zeros((n_frames, n_people, 17)),
           "world": np.full((n_frames, n_people, 17, 3), np.nan), "found": np.zeros((n_frames, n_people), bool),
           "track_id": np.full((n_frames, n_people), -1, np.int64)}
    max_px = MATCH_FRACTION * cam.intrinsics.height
    for f in range(n_frames):
        present = np.flatnonzero(det["track_id"][f] >= 0)
        for n, p in zip(present, match_people(det["keypoints"][f, present], det["confidence"][f, present],
                                              cam, ref_cam[f], max_px)):
            if p >= 0:
                out["keypoints"][f, p], out["confidence"][f, p] = det["keypoints"][f, n], det["confidence"][f, n]
                out["world"][f, p], out["track_id"][f, p] = det["world"][f, n], det["track_id"][f, n]
                out["found"][f, p] = True
    return out


def view_agreement(demo: str, backend: str, cache: dict[str, np.ndarray]) -> list[dict[tuple[str, str], float]]:
    """How well each pair of cameras agrees on each reference person (a list by person): over
    frames, the median symmetric epipolar distance (pixels) of the person's confident joints, each
    view's detection being the one nearest the projection of the four-view reference. Calibration
    or detection errors that a triangulation from three views cannot see show as one pair far
    above the rest."""
    calib = cameras(demo)
    cams = [calib[c] for c in CAMERAS]
    dets = [detections(demo, c, backend) for c in CAMERAS]
    offsets = [int(o) for o in cache["offsets"]]
    out = []
    for person in range(cache["ref_all"].shape[1]):
        pairs: dict[tuple[int, int], list[float]] = {}
        for f in range(len(cache["ref_all"])):
            ref = cache["ref_all"][f, person]
            if not np.isfinite(ref).any():
                continue
            world = cams[0].to_world(ref)
            chosen = {}
            for v, (cam, det) in enumerate(zip(cams, dets)):
                g = f + offsets[v]
                if not 0 <= g < len(det["keypoints"]):
                    continue
                found = match_people(det["keypoints"][g], det["confidence"][g], cam, cam.to_camera(world)[None],
                                     MATCH_FRACTION * cam.intrinsics.height)
                if 0 in found:
                    n = found.index(0)
                    chosen[v] = (normalize_with_intrinsics(det["keypoints"][g, n], cam.intrinsics, np.float64),
                                 det["confidence"][g, n])
            for a, b in combinations(sorted(chosen), 2):
                d = _pair_distance(cams[a], *chosen[a], cams[b], *chosen[b])
                if np.isfinite(d):
                    pairs.setdefault((a, b), []).append(d)
        out.append({(CAMERAS[a], CAMERAS[b]): float(np.median(d)) for (a, b), d in sorted(pairs.items())})
    return out


def demo_cache(demo: str, backend: str = "mediapipe", eval_width: int = 640) -> dict[str, np.ndarray]:
    """The demo's cache file, built if missing."""
    path = CACHE / (demo if backend == "mediapipe" else f"{demo}_{backend}")
    path = path.with_suffix(".npz")
    if not path.is_file():
        np.savez_compressed(path, **reference(demo, backend, eval_width))
    return dict(np.load(path))


def main() -> None:
    fetch()
    for demo in DEMOS:
        c = demo_cache(demo)
        print(demo, "offsets", c["offsets"], "people", c["ref_all"].shape[1],
              "found", c["found"].sum(0), "ref_all valid", np.isfinite(c["ref_all"][..., 0]).mean((0, 2)),
              "ref_others valid", np.isfinite(c["ref_others"][..., 0]).mean((0, 2)),
              "err all", np.nanmedian(c["ref_all_err"]), "err others", np.nanmedian(c["ref_others_err"]))


if __name__ == "__main__":
    main()
