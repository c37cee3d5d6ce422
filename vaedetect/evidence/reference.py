"""The face map: where a clip's faces land among the bundle's real and pseudo-fake reference faces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAP_NEIGHBOURS = 10  # reference faces a clip's face is placed among on the 2-D map


@dataclass
class ReferenceMap:
    """The bundle's reference faces (real and pseudo-fake latents with their 2-D map positions) and where a clip's own
    faces land among them. Placement is inverse-distance kNN in latent space: no UMAP transform per request."""

    latents: np.ndarray | None  # (N, D) real then pseudo-fake latents; None when the bundle has none
    xy: np.ndarray | None  # (N, 2) their map positions
    real_xy: np.ndarray  # for drawing the map
    fake_xy: np.ndarray
    fake_kinds: list[str]

    @classmethod
    def from_reference(cls, ref: dict[str, np.ndarray]) -> ReferenceMap:
        lat = [ref.get("real_latents"), ref.get("fake_latents")]
        xy = [ref.get("real_xy"), ref.get("fake_xy")]
        have = [i for i in range(2) if lat[i] is not None and len(lat[i])]
        return cls(
            latents=np.concatenate([lat[i] for i in have]) if have else None,
            xy=np.concatenate([xy[i] for i in have]) if have else None,
            real_xy=np.asarray(ref.get("real_xy", np.zeros((0, 2)))),
            fake_xy=np.asarray(ref.get("fake_xy", np.zeros((0, 2)))),
            fake_kinds=[str(k) for k in ref.get("fake_kinds", [])],
        )

    def place(self, latents: np.ndarray) -> np.ndarray:
        """(N, 2) map positions for (N, D) latents; the origin when the bundle has no reference."""
        if self.latents is None or len(latents) == 0:
            return np.zeros((len(latents), 2), np.float32)
        d = np.linalg.norm(latents[:, None, :] - self.latents[None, :, :], axis=2)
        k = min(MAP_NEIGHBOURS, d.shape[1])
        nn_idx = np.argpartition(d, k - 1, axis=1)[:, :k]
        nd = np.take_along_axis(d, nn_idx, axis=1)
        w = 1.0 / (nd + 1e-6)
        return (self.xy[nn_idx] * w[..., None]).sum(axis=1) / w.sum(axis=1, keepdims=True)

    def for_figure(self) -> dict[str, object]:
        """What ``figures.umap_figure`` draws the reference clusters from."""
        return {"real_xy": self.real_xy, "fake_xy": self.fake_xy, "fake_kinds": list(self.fake_kinds)}
