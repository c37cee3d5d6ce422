"""Faces: MediaPipe detection + FaceMesh landmarks, tracking, aligned face and mouth crops, lip opening.

Why these choices:
- FaceMesh in video mode tracks its own region of interest, so the landmark model (not the detector) runs on most
  frames; it is the cheapest way to get dense, temporally stable landmarks on a CPU.
- FaceMesh's built-in detector is short-range. The full-range detector runs once per ``detect_every_s`` to count faces
  (a ``multiple_faces`` warning) and to recover small faces the mesh misses, by re-running the mesh on a crop.
- Landmarks are found on a copy no larger than ``landmark_max_side_px``; crops are cut from the full-resolution frame
  with one similarity transform, so resolution is spent where the models look.
- The detector sees the whole frame at its own small input size (192 px), so it misses faces under ~5-10% of the
  frame's longer side (about 100 px in a 1080p wide shot, 40-60 px in a 640 px one). When it finds none, or only
  faces under ``tile_below`` of the longer side, it looks again on overlapping tiles (2x2 and 3x3, each scaled up to
  the detector's input): no cost when a large face is found (the training data), and every face found is counted.
- Faces under ``min_face_px`` are counted but not examined (an upscaled 25 px face has no detail left to judge);
  the track records how many and how large, so the report can say "too small" instead of "no face".
- When the mesh misses every face of a frame (small faces), the detection that continues the leading track is
  meshed, not simply the largest: in a panel of similar faces "largest" flips between people and splits the track.
- A :class:`FacePool` keeps the MediaPipe graphs between analyses; the video-mode mesh is reset before every clip so
  no tracking state crosses from one to the next, the static graphs stay warm.
- Landmarks are computed on every ``landmark_every``-th frame and interpolated between (head pose changes slowly at
  25 fps; the mouth crop still comes from each frame's own pixels).
- Several faces are tracked by box overlap; the main speaker is the track with the largest summed face area
  (largest and most persistent), and only its crops reach the models.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import cv2
import numpy as np

FACE_CROP_PX = 128
MOUTH_CROP_PX = 48
N_LANDMARKS = 468

# FaceMesh indices (image-left eye first).
EYE_A = (33, 133)
EYE_B = (362, 263)
_NOSE_TIP = 1
_MOUTH_CORNERS = (61, 291)
_INNER_LIP_TOP, _INNER_LIP_BOTTOM = 13, 14
# FaceMesh's face outline (in order around the face) and lip points, as mediapipe's FACEMESH_FACE_OVAL/LIPS name them.
FACE_OVAL = (176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109, 10, 338, 297, 332, 284, 251,
             389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148)  # fmt: skip
LIPS = (0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191, 267, 269, 270, 291,
        308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415)  # fmt: skip

# Canonical positions (fraction of the crop side) of eye centres, nose tip and mouth corners: the ArcFace template,
# loosened so the crop keeps the jaw line and hair line where face-swap blending seams live.
_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
_LOOSEN = 0.9
FACE_TEMPLATE = ((_TEMPLATE_112 / 112.0 - 0.5) * _LOOSEN + 0.5 + np.array([0.0, -0.04], dtype=np.float32)).astype(
    np.float32
)
# Mouth window in template coordinates: centred below the mouth-corner midpoint, wide enough for an open jaw.
_MOUTH_CENTER = FACE_TEMPLATE[3:5].mean(axis=0) + np.array([0.0, 0.045], dtype=np.float32)
_MOUTH_SIDE = 0.36
# Dark footage (a common failure of both MediaPipe models) is brightened with a gamma curve before detection only.
_DARK_MEAN = 70.0
_BRIGHTEN_LUT = (255.0 * (np.arange(256) / 255.0) ** 0.5).astype(np.uint8)


@dataclass(frozen=True)
class FaceConfig:
    max_faces: int = 4
    detect_every_s: float = 1.0
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    landmark_max_side_px: int = 640
    face_crop_px: int = FACE_CROP_PX
    mouth_crop_px: int = MOUTH_CROP_PX
    min_track_iou: float = 0.2
    smooth: float = 0.5  # EMA weight of the previous keypoints: steadier crops, less false "flicker"
    # FaceMesh runs on every n-th frame; frames between get keypoints interpolated from their two neighbours, but
    # crops cut from their own pixels, so lip motion is still seen at the full frame rate. Halves the dominant cost.
    landmark_every: int = 2
    # Tiled second look when the whole-frame detector finds no face, or none larger than ``tile_below`` of the frame's
    # longer side (faces of all grids merged); tiles shorter than ``min_tile_px`` on their longer side are not cut.
    tile_grids: tuple[int, ...] = (2, 3)
    min_tile_px: int = 128
    tile_overlap: float = 0.25
    tile_below: float = 0.12
    # A tile that cuts a face can show its lower half as a face of its own (at confidence ~0.7 where whole faces on
    # tiles score above 0.8): tile detections need more confidence than whole-frame ones.
    tile_min_confidence: float = 0.75
    # Faces smaller than this (longer side of the box, in source pixels) are counted, not examined.
    min_face_px: int = 32
    # Larger crops for the region cues (vaedetect.cues), cut only where FaceMesh ran, from its own (unsmoothed)
    # landmarks, so the regions drawn from those landmarks sit exactly on the crop; the first ``max_cue_crops`` are
    # kept (enough to start after a long silent lead-in and still have the cue frames the evidence takes).
    cue_crop_px: int = 256
    max_cue_crops: int = 150

    def meshes(self, i: int) -> bool:
        """Whether a video's face pass runs FaceMesh on its frame ``i`` (the others get interpolated keypoints)."""
        return i % max(1, self.landmark_every) == 0


@dataclass
class FaceTrack:
    """Per analysed frame, the main speaker's face (arrays are indexed by frame; absent frames are zero / NaN)."""

    times_s: np.ndarray
    present: np.ndarray
    faces_per_frame: np.ndarray
    face_crops: np.ndarray
    mouth_crops: np.ndarray
    lip_opening: np.ndarray
    landmarks: np.ndarray
    boxes: np.ndarray
    face_size_px: np.ndarray
    max_faces: int
    n_tracks: int
    frame_size: tuple[int, int] = (0, 0)
    detector_faces: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    cue_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # frames of ``cue_crops``
    cue_crops: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0, 3), dtype=np.uint8))
    # Faces found but under ``FaceConfig.min_face_px``: the most seen at once and their median size (px).
    small_faces: int = 0
    small_face_px: float = float("nan")

    @property
    def n_frames(self) -> int:
        return int(self.times_s.shape[0])

    @property
    def coverage(self) -> float:
        return float(self.present.mean()) if self.n_frames else 0.0

    @property
    def main_track_len(self) -> int:
        return int(self.present.sum())


def keypoints_of(lm: np.ndarray) -> np.ndarray:
    """Five alignment points (eye centres, nose tip, mouth corners) from 468 landmarks in pixels."""
    return np.stack(
        [
            lm[list(EYE_A)].mean(axis=0),
            lm[list(EYE_B)].mean(axis=0),
            lm[_NOSE_TIP],
            lm[_MOUTH_CORNERS[0]],
            lm[_MOUTH_CORNERS[1]],
        ]
    ).astype(np.float32)


def similarity_to_template(keypoints: np.ndarray, size_px: int) -> np.ndarray:
    """2x3 similarity transform taking the five keypoints to the canonical template in a ``size_px`` crop."""
    dst = FACE_TEMPLATE * size_px
    m, _ = cv2.estimateAffinePartial2D(keypoints, dst, method=cv2.LMEDS)
    if m is None:  # degenerate points: fall back to the eye line only
        m = _two_point_similarity(keypoints[:2], dst[:2])
    return m.astype(np.float64)


def landmarks_in_crop(lm: np.ndarray, size_px: int) -> np.ndarray:
    """Frame landmarks in the coordinates of the aligned crop :func:`aligned_face_crop` cuts from them."""
    m = similarity_to_template(keypoints_of(lm), size_px)
    return lm @ m[:, :2].T + m[:, 2]


def _two_point_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    s = complex(*(src[1] - src[0]))
    d = complex(*(dst[1] - dst[0]))
    r = d / s if abs(s) > 1e-6 else 1.0
    a, b = r.real, r.imag
    t = dst[0] - np.array([a * src[0][0] - b * src[0][1], b * src[0][0] + a * src[0][1]])
    return np.array([[a, -b, t[0]], [b, a, t[1]]])


def aligned_face_crop(frame_rgb: np.ndarray, keypoints: np.ndarray, size_px: int = FACE_CROP_PX) -> np.ndarray:
    m = similarity_to_template(keypoints, size_px)
    return cv2.warpAffine(frame_rgb, m, (size_px, size_px), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def _mouth_window(size_px: int) -> np.ndarray:
    """3x3 affine taking unit template coordinates to the ``size_px`` mouth window (the one place it is defined)."""
    scale = size_px / _MOUTH_SIDE
    offset = (_MOUTH_CENTER - _MOUTH_SIDE / 2) * scale
    return np.array([[scale, 0, -offset[0]], [0, scale, -offset[1]], [0, 0, 1]], dtype=np.float64)


def _gray_warp(rgb: np.ndarray, m: np.ndarray, size_px: int) -> np.ndarray:
    crop = cv2.warpAffine(rgb, m[:2], (size_px, size_px), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)


def mouth_crop(frame_rgb: np.ndarray, keypoints: np.ndarray, size_px: int = MOUTH_CROP_PX) -> np.ndarray:
    """Grayscale mouth window, fixed in the aligned-face frame so jaw motion shows as motion, not as re-centring."""
    to_unit = np.vstack([similarity_to_template(keypoints, 1), [0, 0, 1]])
    return _gray_warp(frame_rgb, _mouth_window(size_px) @ to_unit, size_px)


def mouth_crop_from_aligned(face: np.ndarray, size_px: int = MOUTH_CROP_PX) -> np.ndarray:
    """The same mouth window cut from an already aligned face crop (used on pseudo-fakes, which edit crops)."""
    to_unit = np.diag([1.0 / face.shape[0], 1.0 / face.shape[0], 1.0])
    return _gray_warp(face, _mouth_window(size_px) @ to_unit, size_px)


def lip_opening(lm: np.ndarray) -> float:
    """Inner-lip gap divided by the inter-ocular distance: a scale-free, transparent mouth-motion signal."""
    kp = keypoints_of(lm)
    iod = float(np.linalg.norm(kp[1] - kp[0]))
    if iod < 1e-6:
        return float("nan")
    return float(np.linalg.norm(lm[_INNER_LIP_BOTTOM] - lm[_INNER_LIP_TOP]) / iod)


def face_mask(size_px: int, rng: np.random.Generator | None = None, *, blur: bool = True) -> np.ndarray:
    """Soft mask (H, W) in [0, 1] covering the inner face (brows to chin) of an aligned crop.

    The ellipse is derived from the template's eye and mouth positions; with ``rng`` it is randomly scaled, shifted
    and elastically deformed so the detector cannot learn one fixed boundary.
    """
    t = FACE_TEMPLATE * size_px
    eyes, mouth = t[:2].mean(axis=0), t[3:5].mean(axis=0)
    eye_dist = float(np.linalg.norm(t[1] - t[0]))
    center = (eyes + mouth) / 2 + np.array([0.0, 0.1 * eye_dist])
    axes = np.array([1.05 * eye_dist, 1.25 * (mouth[1] - eyes[1]) + 0.35 * eye_dist])
    if rng is not None:
        axes = axes * rng.uniform(0.85, 1.1, size=2)
        center = center + rng.normal(0, 0.03 * eye_dist, size=2)
    mask = np.zeros((size_px, size_px), dtype=np.float32)
    cv2.ellipse(
        mask, (round(center[0]), round(center[1])), (round(axes[0]), round(axes[1])), 0, 0, 360, 1.0, -1, cv2.LINE_AA
    )
    if rng is not None:
        grid = rng.normal(0, 0.04 * size_px, size=(2, 4, 4)).astype(np.float32)
        dx = cv2.resize(grid[0], (size_px, size_px), interpolation=cv2.INTER_CUBIC)
        dy = cv2.resize(grid[1], (size_px, size_px), interpolation=cv2.INTER_CUBIC)
        ys, xs = np.mgrid[0:size_px, 0:size_px].astype(np.float32)
        mask = cv2.remap(mask, xs + dx, ys + dy, cv2.INTER_LINEAR, borderValue=0)
    if blur:
        k = max(3, (size_px // 12) | 1)
        mask = cv2.GaussianBlur(mask, (k, k), 0)
        mask = np.clip(mask, 0.0, 1.0)
    return mask


def _box(lm: np.ndarray) -> np.ndarray:
    return np.array([lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()], dtype=np.float32)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _side(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))


def _one_box_per_face(found: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Largest box first; a smaller box centred inside a kept one is the same face (seen by two tiles, one cutting it,
    or boxed twice by the detector at one scale: it happens on small faces), not a second person."""
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    for d in sorted(found, key=lambda d: -float((d[0][2] - d[0][0]) * (d[0][3] - d[0][1]))):
        cx, cy = (d[0][0] + d[0][2]) / 2, (d[0][1] + d[0][3]) / 2
        if not any(k[0][0] <= cx <= k[0][2] and k[0][1] <= cy <= k[0][3] for k in kept):
            kept.append(d)
    return kept


# A frame for the face pass: (time_s, rgb), or (time_s, rgb, its landmark_input made ahead, or None).
TrackItem = tuple[float, np.ndarray] | tuple[float, np.ndarray, np.ndarray | None]


def landmark_input(frame: np.ndarray, max_side_px: int) -> np.ndarray:
    """The copy of a frame the landmark and detection models read: no larger than ``max_side_px`` (area
    resampling) and, for dark footage, brightened."""
    h, w = frame.shape[:2]
    side = max(h, w)
    if side > max_side_px:
        s = max_side_px / side
        frame = cv2.resize(frame, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    if float(frame[::8, ::8].mean()) < _DARK_MEAN:
        frame = _BRIGHTEN_LUT[frame]
    return frame


class FaceAnalyzer:
    """Stateful per-clip face pass. Create one per clip (MediaPipe graphs keep tracking state)."""

    def __init__(self, config: FaceConfig | None = None, *, static_images: bool = False) -> None:
        import mediapipe as mp

        self.config = config or FaceConfig()
        self._static = static_images
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static_images,
            max_num_faces=self.config.max_faces,
            refine_landmarks=False,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )
        # Used on crops around small faces found by the full-range detector; always static (crops jump around).
        self._crop_mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=False, min_detection_confidence=0.4
        )
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=self.config.min_detection_confidence
        )

    def close(self) -> None:
        for g in (self._mesh, self._crop_mesh, self._detector):
            g.close()

    def reset(self, *, all_graphs: bool = False) -> None:
        """Forget the previous clip: restart the video-mode mesh's run (it tracks its region of interest from frame
        to frame). The static graphs hold no state and stay warm (a restarted graph re-initialises on its first
        frame); ``all_graphs`` restarts them too, after a failed analysis that may have left one in an error state."""
        for g in (self._mesh, self._crop_mesh, self._detector) if all_graphs else (self._mesh,):
            g.reset()

    def __enter__(self) -> FaceAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- single-frame primitives -------------------------------------------------------------------------------
    def _small(self, frame: np.ndarray) -> np.ndarray:
        return landmark_input(frame, self.config.landmark_max_side_px)

    def mesh(self, frame: np.ndarray, small: np.ndarray | None = None) -> list[np.ndarray]:
        """All faces FaceMesh sees in a frame, as (468, 2) pixel landmarks in full-frame coordinates (``small``: the
        frame's :func:`landmark_input`, if already made)."""
        small = self._small(frame) if small is None else small
        h, w = frame.shape[:2]
        res = self._mesh.process(np.ascontiguousarray(small))
        out = []
        for face in res.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h) for p in face.landmark[:N_LANDMARKS]], dtype=np.float32)
            out.append(pts)
        return out

    def detect(self, frame: np.ndarray, small: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Full-range detector faces as (box x0,y0,x1,y1, five alignment keypoints), in pixels; when the whole frame
        gives none or only small ones, overlapping tiles are searched too (see ``FaceConfig.tile_grids``)."""
        found = self._detect_whole(frame, small=small)
        if not found or max(_side(b) for b, _ in found) < self.config.tile_below * max(frame.shape[:2]):
            # every grid: a face one grid cuts in half is whole on the other
            found += [d for n in self.config.tile_grids for d in self._detect_tiles(frame, n)]
        return _one_box_per_face(found)

    def _detect_tiles(self, frame: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Detections on an n x n grid of overlapping tiles, in frame pixels; a face seen by two tiles counts once."""
        h, w = frame.shape[:2]
        ov = self.config.tile_overlap
        th, tw = round(h / (n - (n - 1) * ov)), round(w / (n - (n - 1) * ov))
        if max(th, tw) < self.config.min_tile_px:
            return []
        found: list[tuple[np.ndarray, np.ndarray]] = []
        for y in np.linspace(0, h - th, n).round().astype(int):
            for x in np.linspace(0, w - tw, n).round().astype(int):
                shift = np.array([x, y], np.float32)
                tile = np.ascontiguousarray(frame[y : y + th, x : x + tw])
                for box, kp in self._detect_whole(tile, self.config.tile_min_confidence):
                    found.append((box + np.tile(shift, 2), kp + shift))
        return found

    def _detect_whole(
        self, frame: np.ndarray, min_confidence: float = 0.0, *, small: np.ndarray | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        small = self._small(frame) if small is None else small
        h, w = frame.shape[:2]
        res = self._detector.process(np.ascontiguousarray(small))
        out = []
        for det in res.detections or []:
            if det.score and det.score[0] < min_confidence:
                continue
            bb = det.location_data.relative_bounding_box
            box = np.array([bb.xmin * w, bb.ymin * h, (bb.xmin + bb.width) * w, (bb.ymin + bb.height) * h], np.float32)
            k = np.array([(p.x * w, p.y * h) for p in det.location_data.relative_keypoints[:4]], dtype=np.float32)
            # Detector keypoints: eyes (image-left first), nose tip, mouth centre. Mouth corners are placed from the
            # eye vector with the template's mouth-to-eye width ratio so the same alignment applies.
            half = 0.415 * (k[1] - k[0])
            out.append((box, np.stack([k[0], k[1], k[2], k[3] - half, k[3] + half]).astype(np.float32)))
        return out

    def mesh_in_box(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """FaceMesh on an enlarged crop around a detector box: recovers faces too small for the short-range mesh."""
        h, w = frame.shape[:2]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = 2.0 * max(box[2] - box[0], box[3] - box[1])
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        crop = frame[y0:y1, x0:x1]
        scale = 256.0 / max(crop.shape[:2])
        crop = cv2.resize(crop, (round(crop.shape[1] * scale), round(crop.shape[0] * scale)))
        res = self._crop_mesh.process(np.ascontiguousarray(crop))
        if not res.multi_face_landmarks:
            return None
        ch, cw = crop.shape[:2]
        lm = res.multi_face_landmarks[0].landmark[:N_LANDMARKS]
        return np.array([(x0 + p.x * cw / scale, y0 + p.y * ch / scale) for p in lm], dtype=np.float32)

    # -- clip pass ---------------------------------------------------------------------------------------------
    def track(self, frames: Iterable[TrackItem], n_frames: int | None = None) -> FaceTrack:
        """Run over ``(time_s, rgb)`` frames once (streaming) and return the main speaker's track. An item may carry
        the frame's :func:`landmark_input` third (``(time_s, rgb, small)``), made ahead for the frames FaceMesh reads
        (:meth:`FaceConfig.meshes`). ``n_frames``: how many frames to expect, if known (sizes the crop arrays)."""
        cfg = self.config
        fps_guess = 25.0
        detect_every = max(1, round(cfg.detect_every_s * fps_guess))
        times: list[float] = []
        per_frame: list[list[tuple[int, np.ndarray, np.ndarray | None]]] = []  # (track id, box, landmarks)
        crops: dict[int, _TrackCrops] = {}
        area: dict[int, float] = {}
        last_box: dict[int, tuple[int, np.ndarray]] = {}  # track -> (frame idx, box)
        smoothed: dict[int, np.ndarray] = {}
        det_counts: list[int] = []
        small_counts: list[int] = []
        small_sizes: list[float] = []
        last_det: list[tuple[np.ndarray, np.ndarray]] = []
        next_id = 0
        frame_size = (0, 0)
        pending: list[tuple[int, np.ndarray]] = []  # frames waiting for the next landmark frame
        prev_mesh: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # track -> (keypoints, box) at the last mesh frame
        prev_mesh_i = -1
        last_det_period = -1

        def add_crop(i: int, tid: int, frame: np.ndarray, kp: np.ndarray, box: np.ndarray, lm) -> None:
            area[tid] = area.get(tid, 0.0) + float((box[2] - box[0]) * (box[3] - box[1]))
            if tid not in crops:
                crops[tid] = _TrackCrops(cfg, n_frames or 256)
            crops[tid].put(i, aligned_face_crop(frame, kp, cfg.face_crop_px), mouth_crop(frame, kp, cfg.mouth_crop_px))
            per_frame[i].append((tid, box, lm))
            if lm is not None and len(crops[tid].cue_idx) < cfg.max_cue_crops:
                crops[tid].put_cue(i, aligned_face_crop(frame, keypoints_of(lm), cfg.cue_crop_px))

        def fill_pending(cur_i: int, cur: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
            """Crops for skipped frames, with keypoints interpolated between the landmark frames around them."""
            for j, fr in pending:
                for tid, (kp, box) in cur.items():
                    if tid in prev_mesh and cur_i > prev_mesh_i:
                        a = (j - prev_mesh_i) / (cur_i - prev_mesh_i)
                        kp = (1 - a) * prev_mesh[tid][0] + a * kp
                        box = (1 - a) * prev_mesh[tid][1] + a * box
                    add_crop(j, tid, fr, kp.astype(np.float32), box.astype(np.float32), None)
            pending.clear()

        for i, (t, frame, *ahead) in enumerate(frames):
            small = ahead[0] if ahead and ahead[0] is not None else None
            frame_size = (frame.shape[1], frame.shape[0])
            times.append(float(t))
            per_frame.append([])
            if not self._static and not cfg.meshes(i):
                pending.append((i, frame))
                continue
            if small is None:
                small = self._small(frame)
            faces: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = [
                (_box(lm), keypoints_of(lm), lm) for lm in self.mesh(frame, small)
            ]
            faces = [f for f in faces if _side(f[0]) >= cfg.min_face_px]
            if self._static or i // detect_every != last_det_period:
                last_det_period = i // detect_every
                found = self.detect(frame, small)
                det_counts.append(len(found))
                small = [_side(b) for b, _ in found if _side(b) < cfg.min_face_px]
                small_counts.append(len(small))
                small_sizes += small
                last_det = [d for d in found if _side(d[0]) >= cfg.min_face_px]
            if not faces and last_det:
                # One detection is meshed (the speaker's); counting uses the detector itself. If even the mesh on an
                # enlarged crop fails (tiny or dark faces), the detector's own keypoints still give an aligned crop
                # for the face models, without lip landmarks.
                dbox, dkp = _continuing(last_det, last_box, area)
                lm = self.mesh_in_box(frame, dbox)
                faces = [(_box(lm), keypoints_of(lm), lm)] if lm is not None else [(dbox, dkp, None)]
            used: set[int] = set()
            cur: dict[int, tuple[np.ndarray, np.ndarray]] = {}
            for box, kp, lm in sorted(faces, key=lambda f: -float((f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))):
                best, best_iou = None, cfg.min_track_iou
                for tid, (fi, pbox) in last_box.items():
                    if tid in used or i - fi > 2 * detect_every:
                        continue
                    ov = _iou(box, pbox)
                    if ov > best_iou:
                        best, best_iou = tid, ov
                if best is None:
                    best, next_id = next_id, next_id + 1
                used.add(best)
                last_box[best] = (i, box)
                if best in smoothed and not self._static:
                    kp = cfg.smooth * smoothed[best] + (1 - cfg.smooth) * kp
                smoothed[best] = kp
                cur[best] = (kp, box)
                add_crop(i, best, frame, kp, box, lm)
            fill_pending(i, cur)
            prev_mesh, prev_mesh_i = cur, i
        # Frames after the last landmark frame keep its keypoints.
        fill_pending(prev_mesh_i, prev_mesh)

        n = len(times)
        main = max(area, key=area.get) if area else None
        present = np.zeros(n, dtype=bool)
        # The main track's crops are already in frame order, zero where it is absent (other tracks' are dropped).
        main_crops = crops[main] if main is not None else _TrackCrops(cfg, n)
        face_crops, mouth_crops = main_crops.frames(n)
        crops.clear()
        lip = np.full(n, np.nan, dtype=np.float32)
        lms = np.full((n, N_LANDMARKS, 2), np.nan, dtype=np.float32)
        boxes = np.full((n, 4), np.nan, dtype=np.float32)
        size = np.full(n, np.nan, dtype=np.float32)
        for i, assigned in enumerate(per_frame):
            for tid, box, lm in assigned:
                if tid != main:
                    continue
                present[i] = True
                boxes[i] = box
                size[i] = max(box[2] - box[0], box[3] - box[1])
                if lm is not None:
                    lip[i] = lip_opening(lm)
                    lms[i] = lm
        # Lip opening on interpolated frames: linear between measured neighbours (within the track only).
        known = np.isfinite(lip)
        gaps = present & ~known
        if gaps.any() and known.sum() >= 2:
            lip[gaps] = np.interp(np.flatnonzero(gaps), np.flatnonzero(known), lip[known])
        faces_per_frame = np.array([len(a) for a in per_frame], dtype=np.int16)
        cue_idx = np.array(main_crops.cue_idx, dtype=int)
        cue_stack = main_crops.cue[: len(cue_idx)]
        max_mesh = int(faces_per_frame.max()) if n else 0
        max_det = max(det_counts) if det_counts else 0
        return FaceTrack(
            times_s=np.asarray(times, dtype=np.float64),
            present=present,
            faces_per_frame=faces_per_frame,
            face_crops=face_crops,
            mouth_crops=mouth_crops,
            lip_opening=lip,
            landmarks=lms,
            boxes=boxes,
            face_size_px=size,
            max_faces=max(max_mesh, max_det),
            n_tracks=len(area),
            frame_size=frame_size,
            detector_faces=np.asarray(det_counts, dtype=np.int16),
            cue_idx=cue_idx,
            cue_crops=cue_stack,
            small_faces=max(small_counts, default=0),
            small_face_px=float(np.median(small_sizes)) if small_sizes else float("nan"),
        )


class _TrackCrops:
    """One track's crops, written into arrays for the whole clip as they are cut (zeros where the track is absent).

    Arrays, not one small array per frame: a minute of small crops scattered over the heap stays resident after they
    are freed (~100 MB), and gathering them into the clip's arrays at the end needed their memory twice. Zeroed pages
    never written cost no memory, so a track seen in a few frames costs only those.
    """

    def __init__(self, cfg: FaceConfig, n_frames: int) -> None:
        self.face = np.zeros((max(n_frames, 1), cfg.face_crop_px, cfg.face_crop_px, 3), np.uint8)
        self.mouth = np.zeros((max(n_frames, 1), cfg.mouth_crop_px, cfg.mouth_crop_px), np.uint8)
        self.cue = np.zeros((cfg.max_cue_crops, cfg.cue_crop_px, cfg.cue_crop_px, 3), np.uint8)
        self.cue_idx: list[int] = []  # mesh frames of ``cue``, in the order cut (ascending)

    def put(self, i: int, face: np.ndarray, mouth: np.ndarray) -> None:
        if i >= len(self.face):
            self.frames(max(2 * len(self.face), i + 1))
        self.face[i], self.mouth[i] = face, mouth

    def put_cue(self, i: int, crop: np.ndarray) -> None:
        self.cue[len(self.cue_idx)] = crop
        self.cue_idx.append(i)

    def frames(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Face and mouth crops of frames ``0..n-1`` (the arrays grow, zero-filled, when ``n`` exceeds them)."""
        if n > len(self.face):
            face = np.zeros((n, *self.face.shape[1:]), np.uint8)
            mouth = np.zeros((n, *self.mouth.shape[1:]), np.uint8)
            face[: len(self.face)], mouth[: len(self.mouth)] = self.face, self.mouth
            self.face, self.mouth = face, mouth
        return self.face[:n], self.mouth[:n]


def _continuing(
    found: list[tuple[np.ndarray, np.ndarray]], last_box: dict[int, tuple[int, np.ndarray]], area: dict[int, float]
) -> tuple[np.ndarray, np.ndarray]:
    """The detection that overlaps the leading track's last box (largest summed area so far), else the largest."""
    if area:
        lead = max(area, key=area.get)
        if lead in last_box:
            best = max(found, key=lambda d: _iou(d[0], last_box[lead][1]))
            if _iou(best[0], last_box[lead][1]) > 0:
                return best
    return max(found, key=lambda d: (d[0][2] - d[0][0]) * (d[0][3] - d[0][1]))


class FacePool:
    """MediaPipe graphs kept between analyses (bench/analyze.py --graphs measures the saving; the first build in a
    process costs about a second, later ones and resets tens of milliseconds, plus a warm-up on a graph's first frame).

    Thread-safe: each analysis borrows its own :class:`FaceAnalyzer` (one per concurrent call, built on demand), whose
    video mesh is reset before use (every graph, after a failed analysis); one that fails even to reset is closed and
    replaced. At most ``max_idle`` per mode are kept.
    """

    def __init__(self, config: FaceConfig | None = None, max_idle: int = 2) -> None:
        self.config = config or FaceConfig()
        self.max_idle = max_idle
        self.built = 0  # analyzers ever built: stays flat across analyses when graphs are reused
        self._idle: dict[bool, list[FaceAnalyzer]] = {False: [], True: []}
        self._failed: set[int] = set()  # ids of idle analyzers whose last analysis raised
        self._lock = threading.Lock()

    @contextmanager
    def analyzer(self, *, static_images: bool = False) -> Iterator[FaceAnalyzer]:
        with self._lock:
            fa = self._idle[static_images].pop() if self._idle[static_images] else None
        if fa is None:
            fa = FaceAnalyzer(self.config, static_images=static_images)
            with self._lock:
                self.built += 1
        else:
            with self._lock:
                failed = id(fa) in self._failed
                self._failed.discard(id(fa))
            try:
                fa.reset(all_graphs=failed)
            except Exception:
                with suppress(Exception):
                    fa.close()
                fa = FaceAnalyzer(self.config, static_images=static_images)
                with self._lock:
                    self.built += 1
        ok = False
        try:
            yield fa
            ok = True
        finally:
            with self._lock:
                keep = len(self._idle[static_images]) < self.max_idle
                if keep:
                    self._idle[static_images].append(fa)
                    if not ok:
                        self._failed.add(id(fa))
            if not keep:
                fa.close()

    def idle(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._idle.values())

    def close(self) -> None:
        with self._lock:
            analyzers = [fa for v in self._idle.values() for fa in v]
            self._idle = {False: [], True: []}
        for fa in analyzers:
            fa.close()

    def track(
        self, frames: Iterable[TrackItem], *, static_images: bool = False, n_frames: int | None = None
    ) -> FaceTrack:
        """:func:`track_faces` on pooled graphs."""
        with self.analyzer(static_images=static_images) as fa:
            return fa.track(frames, n_frames)


def track_faces(
    frames: Iterable[TrackItem], config: FaceConfig | None = None, *, static_images: bool = False
) -> FaceTrack:
    """One-call face pass over ``(time_s, rgb)`` frames; see :class:`FaceAnalyzer`."""
    with FaceAnalyzer(config, static_images=static_images) as fa:
        return fa.track(frames)
