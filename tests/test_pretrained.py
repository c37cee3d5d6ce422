"""The pretrained networks: found in their pinned carrier packages, checked, loaded once, and giving the features the
evidence relies on; a missing package is an error that names it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vaedetect import pretrained
from vaedetect.errors import MissingPretrained


def test_a_missing_carrier_package_is_named_with_how_to_install_it(monkeypatch):
    fake = replace(pretrained.PRETRAINED["clip_vit_b16"], package="no-such-carrier-package")
    monkeypatch.setitem(pretrained.PRETRAINED, "clip_vit_b16", fake)
    with pytest.raises(MissingPretrained, match=r"no-such-carrier-package==1\.1\.0.*requirements-models\.txt"):
        pretrained.model_path("clip_vit_b16")


def test_a_file_that_is_not_the_pinned_one_is_refused(monkeypatch):
    other = replace(pretrained.PRETRAINED["speech_mel"], sha256="0" * 64)
    monkeypatch.setitem(pretrained.PRETRAINED, "speech_mel", other)
    with pytest.raises(MissingPretrained, match="not the pinned file"):
        pretrained.model_path("speech_mel")


def test_every_pinned_file_is_installed_and_matches_its_digest():
    for name in pretrained.PRETRAINED:
        assert pretrained.model_path(name).is_file()


def test_clip_embeddings_are_unit_vectors_that_tell_pictures_apart_and_repeat_exactly():
    rng = np.random.default_rng(0)
    smooth = np.repeat(np.linspace(0, 255, 224, dtype=np.uint8)[None, :, None], 224, axis=0).repeat(3, axis=2)
    noise = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
    e = pretrained.clip_embed(np.stack([smooth, noise, smooth]))
    assert e.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(e[0], e[2], atol=1e-6)
    assert float(e[0] @ e[1]) < 0.95


def test_a_pictures_clip_embedding_does_not_depend_on_the_pictures_embedded_with_it():
    """The int8 tower quantises a whole input tensor with one scale: a face embedded among others must still come out
    as it does alone (as a visitor's photo is embedded)."""
    rng = np.random.default_rng(1)
    face = rng.integers(90, 160, (224, 224, 3), dtype=np.uint8)  # low contrast
    loud = rng.integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)  # wide-range company
    alone = pretrained.clip_embed(face[None])[0]
    among = pretrained.clip_embed(np.concatenate([loud[:2], face[None], loud[2:]]))[2]
    np.testing.assert_allclose(among, alone, atol=1e-6)


def test_reembedding_the_cache_rewrites_only_the_embeddings_and_stamps_them_leaving_no_partial_file(tmp_path):
    import json

    from vaedetect.training import records

    rng = np.random.default_rng(3)
    faces = rng.integers(0, 255, (2, 224, 224, 3), dtype=np.uint8)
    stills = rng.integers(0, 255, (1, 224, 224, 3), dtype=np.uint8)
    entry = tmp_path / "abc.npz"
    old_meta = {"row": {"path": "a.mp4"}}  # made before entries were stamped
    np.savez_compressed(entry, faces=faces, stills=stills, face_clip=np.zeros((2, 512)), frame_clip=np.zeros((1, 512)),
                        meta=np.frombuffer(json.dumps(old_meta).encode(), np.uint8))  # fmt: skip
    with np.load(entry, allow_pickle=False) as d, pytest.raises(records.StaleCache, match="--reembed"):
        records.record_from_cache(d, "abc")
    assert records.reembed_all(tmp_path, workers=1) == []
    with np.load(entry, allow_pickle=False) as d:
        np.testing.assert_array_equal(d["faces"], faces)
        assert json.loads(bytes(d["meta"])) == old_meta | {"clip_embedding": records.CLIP_EMBEDDING}
        np.testing.assert_allclose(d["face_clip"], pretrained.clip_embed(faces), atol=1e-6)
        np.testing.assert_allclose(d["frame_clip"], pretrained.clip_embed(stills), atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc.npz"]


def test_clip_input_keeps_the_centre_at_224_px_whatever_the_shape():
    wide = np.zeros((100, 400, 3), np.uint8)
    wide[:, 175:225] = 255  # a white stripe in the middle
    out = pretrained.clip_input(wide)
    assert out.shape == (224, 224, 3)
    assert out[112, 112].min() == 255 and out[112, 5].max() == 0 and out[112, 218].max() == 0


def test_speech_embeddings_are_zero_where_the_window_leaves_the_audio_and_follow_the_sound():
    sr = pretrained.SPEECH_RATE_HZ
    t = np.arange(3 * sr) / sr
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    noise = (0.3 * np.random.default_rng(1).standard_normal(3 * sr)).astype(np.float32)
    centres = np.array([0.1, 1.0, 1.5, 2.95])
    a, b = pretrained.speech_embeddings(tone, centres), pretrained.speech_embeddings(noise, centres)
    assert a.shape == (4, 96)
    assert not a[0].any() and not a[3].any()  # the 0.76 s window would start before / end after the audio
    assert a[1].any() and np.linalg.norm(a[1] - b[1]) > 0.1 * np.linalg.norm(a[1])
    assert not pretrained.speech_embeddings(None, centres).any()
