"""Checkpoint bundles: registry, local folders and Hub repos through the real huggingface_hub client.

The Hub is :class:`tests.hub_server.FakeHub` on 127.0.0.1; see the ``fake_hub`` fixture for how the client is pointed
at it.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from huggingface_hub import ModelCard, constants

from vaedetect import hub, model_card
from vaedetect.errors import BundleError
from vaedetect.hub import BundleSpec, resolve_bundle
from vaedetect.models.bundle import REQUIRED_FILES, file_sha256

try:  # pytest puts tests/ on sys.path (no tests/__init__.py); the package form covers a future __init__.py
    from bundle_factory import make_bundle, write_tier_rates
    from hub_server import FakeHub
except ImportError:  # pragma: no cover
    from tests.bundle_factory import make_bundle, write_tier_rates
    from tests.hub_server import FakeHub


@pytest.fixture
def hf_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolate huggingface_hub from the user's cache, token and offline setting.

    huggingface_hub 2.4 copies env vars into ``huggingface_hub.constants`` at import, so setting the variables is not
    enough once it is imported: the constants the download/upload code reads at call time are patched too.
    """
    home = tmp_path / "hf_home"
    for var in ("HF_HUB_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(home / "agents.json"))
    monkeypatch.setenv("HF_XET_CACHE", str(home / "xet"))
    monkeypatch.setattr(constants, "HF_XET_CACHE", str(home / "xet"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    return tmp_path / "cache"


def _point_client_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # HfApi reads constants.ENDPOINT; hf_hub_url builds /resolve/ URLs from constants.HUGGINGFACE_CO_URL_TEMPLATE.
    # Both are frozen from HF_ENDPOINT at import, hence patched; the env var covers subprocesses.
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")


@pytest.fixture
def fake_hub(hf_env: Path, monkeypatch: pytest.MonkeyPatch):
    """A running FakeHub that huggingface_hub talks to (see ``_point_client_at``)."""
    with FakeHub() as server:
        _point_client_at(server.url, monkeypatch)
        yield server


@pytest.fixture
def cache(hf_env: Path) -> Path:
    return hf_env


@pytest.fixture
def bundled_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "assets_checkpoints"
    make_bundle(root / "default", name="bundled-default")
    monkeypatch.setattr(hub, "BUNDLED_DIR", root)
    return root / "default"


@pytest.fixture
def published(fake_hub: FakeHub, tmp_path: Path) -> tuple[str, Path]:
    """org/tiny on the fake Hub with one commit; returns (sha, source folder)."""
    source = make_bundle(tmp_path / "src", name="tiny-v1")
    return fake_hub.commit("org/tiny", source), source


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- Hub downloads ------------------------------------------------------------------------------------------------


def test_hub_repo_downloads_into_cache_and_validates(fake_hub, published, cache, monkeypatch):
    sha, _ = published
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", False)  # hub.py must switch it off from the env var

    resolved = resolve_bundle("org/tiny", cache_dir=cache)

    assert (resolved.source, resolved.name, resolved.revision) == ("hub", "org/tiny", sha)
    assert resolved.config.name == "tiny-v1" and resolved.warnings == []
    assert resolved.path.is_relative_to(cache)
    assert sorted(p.name for p in resolved.path.iterdir()) == sorted((*REQUIRED_FILES, "weights.safetensors"))
    assert fake_hub.count("/api/models/org/tiny/revision/main") == 1
    assert fake_hub.count("/org/tiny/resolve/", "GET") == 5  # plus one metadata HEAD per file
    assert fake_hub.count("/api/agent-harnesses") == 0 and constants.HF_HUB_DISABLE_TELEMETRY is True


def test_second_load_of_pinned_revision_makes_no_http_request(fake_hub, published, cache):
    sha, _ = published
    first = resolve_bundle(f"org/tiny@{sha}", cache_dir=cache)
    fake_hub.reset_requests()

    second = resolve_bundle(f"org/tiny@{sha}", cache_dir=cache)

    assert second.path == first.path and second.revision == sha
    assert fake_hub.requests == []


def test_second_load_of_branch_only_asks_which_commit_it_points_to(fake_hub, published, cache):
    resolve_bundle("org/tiny", cache_dir=cache)
    fake_hub.reset_requests()

    resolve_bundle("org/tiny", cache_dir=cache)

    assert fake_hub.requests == [("GET", "/api/models/org/tiny/revision/main")]


def test_pinned_revision_keeps_serving_old_content_after_main_moves(fake_hub, published, cache, tmp_path):
    old_sha, _ = published
    new_sha = fake_hub.commit("org/tiny", make_bundle(tmp_path / "v2", name="tiny-v2", scale=2.0))

    pinned = resolve_bundle(f"org/tiny@{old_sha}", cache_dir=cache)
    latest = resolve_bundle("org/tiny", cache_dir=cache)

    assert (pinned.revision, pinned.config.name) == (old_sha, "tiny-v1")
    assert (latest.revision, latest.config.name) == (new_sha, "tiny-v2")
    assert file_sha256(pinned.path / "weights.safetensors") != file_sha256(latest.path / "weights.safetensors")


def test_registry_entry_with_matching_sha256_loads(fake_hub, published, cache, monkeypatch):
    sha, source = published
    digests = {p.name: file_sha256(p) for p in source.iterdir()}
    monkeypatch.setitem(hub.REGISTRY, "tiny", BundleSpec("tiny", "org/tiny", sha, digests, "test bundle"))

    resolved = resolve_bundle("tiny", cache_dir=cache, fallback=False)

    assert (resolved.name, resolved.source, resolved.revision, resolved.warnings) == ("tiny", "hub", sha, [])


def test_registry_entry_with_wrong_sha256_is_rejected(fake_hub, published, cache, bundled_default, monkeypatch):
    sha, _ = published
    spec = BundleSpec("tiny", "org/tiny", sha, {"weights.safetensors": "0" * 64})
    monkeypatch.setitem(hub.REGISTRY, "tiny", spec)

    with pytest.raises(BundleError, match=r"sha256 mismatch for weights\.safetensors"):
        resolve_bundle("tiny", cache_dir=cache, fallback=False)

    resolved = resolve_bundle("tiny", cache_dir=cache)
    assert resolved.source == "bundled" and resolved.path == bundled_default
    [(code, message)] = resolved.warnings
    assert code == "checkpoint_fallback"
    assert "'tiny'" in message and "sha256 mismatch" in message and message.endswith("bundled default model instead.")


def test_repo_containing_pickle_is_refused_and_the_pickle_never_downloaded(fake_hub, cache, tmp_path, bundled_default):
    source = make_bundle(tmp_path / "src")
    (source / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")  # a pickle
    fake_hub.commit("org/pickled", source)

    with pytest.raises(BundleError, match=r"pickle-type file\(s\) pytorch_model\.bin"):
        resolve_bundle("org/pickled", cache_dir=cache, fallback=False)
    assert fake_hub.count("/org/pickled/resolve/main/pytorch_model.bin") == 0
    assert not list(cache.rglob("pytorch_model.bin"))

    fallen_back = resolve_bundle("org/pickled", cache_dir=cache)
    assert fallen_back.source == "bundled" and "pytorch_model.bin" in fallen_back.warnings[0][1]


def test_unreachable_hub_falls_back_to_bundled_default_with_warning(hf_env, bundled_default, monkeypatch):
    _point_client_at(_closed_port_url(), monkeypatch)

    resolved = resolve_bundle("org/tiny", cache_dir=hf_env)

    assert resolved.source == "bundled" and resolved.config.name == "bundled-default"
    [(code, message)] = resolved.warnings
    assert code == "checkpoint_fallback" and "org/tiny" in message
    with pytest.raises(BundleError, match="could not fetch org/tiny"):
        resolve_bundle("org/tiny", cache_dir=hf_env, fallback=False)


@pytest.mark.parametrize("spec", ["org/missing", "org/tiny@v9"], ids=["unknown-repo", "unknown-revision"])
def test_missing_repo_or_revision_falls_back_or_raises(fake_hub, published, cache, bundled_default, spec):
    assert resolve_bundle(spec, cache_dir=cache).warnings[0][0] == "checkpoint_fallback"
    with pytest.raises(BundleError, match="NotFound"):
        resolve_bundle(spec, cache_dir=cache, fallback=False)


@pytest.mark.parametrize("how", ["env", "constant"])
def test_offline_mode_serves_cached_snapshot_without_requests(fake_hub, published, cache, monkeypatch, how):
    online = resolve_bundle("org/tiny", cache_dir=cache)
    fake_hub.reset_requests()
    if how == "env":  # set after huggingface_hub was imported: hub.py must still honour it
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    offline = resolve_bundle("org/tiny", cache_dir=cache, fallback=False)

    assert (offline.path, offline.revision, offline.warnings) == (online.path, online.revision, [])
    assert fake_hub.requests == []


def test_offline_mode_without_cache_falls_back_with_warning(fake_hub, published, cache, bundled_default, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    resolved = resolve_bundle("org/tiny", cache_dir=cache)

    assert resolved.source == "bundled" and resolved.warnings[0][0] == "checkpoint_fallback"
    assert fake_hub.requests == []


def test_pull_bundle_copies_real_files_and_never_falls_back(fake_hub, published, cache, tmp_path, bundled_default):
    sha, source = published
    pulled = hub.pull_bundle(f"org/tiny@{sha}", tmp_path / "out", cache_dir=cache)

    assert pulled.path == tmp_path / "out" and pulled.revision == sha
    assert not any(p.is_symlink() for p in pulled.path.iterdir())
    assert file_sha256(pulled.path / "weights.safetensors") == file_sha256(source / "weights.safetensors")
    with pytest.raises(BundleError):
        hub.pull_bundle("org/missing", cache_dir=cache)


# -- bundled and local bundles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [None, "default"])
def test_default_resolves_to_bundled_assets(bundled_default, spec):
    resolved = resolve_bundle(spec)
    assert (resolved.path, resolved.source, resolved.name, resolved.warnings) == (
        bundled_default,
        "bundled",
        "default",
        [],
    )


def test_missing_bundled_default_is_a_clear_error(tmp_path, monkeypatch, hf_env):
    monkeypatch.setattr(hub, "BUNDLED_DIR", tmp_path / "nothing")
    with pytest.raises(BundleError, match="bundled checkpoint 'default' is missing"):
        resolve_bundle()
    _point_client_at(_closed_port_url(), monkeypatch)
    with pytest.raises(BundleError, match="bundled default failed too"):
        resolve_bundle("org/tiny", cache_dir=hf_env)


def test_local_folder_is_accepted_as_path_or_string(tmp_path):
    folder = make_bundle(tmp_path / "my-bundle")
    for spec in (folder, str(folder)):
        resolved = resolve_bundle(spec)
        assert (resolved.path, resolved.source, resolved.name) == (folder, "local", "my-bundle")
        assert resolved.revision is None and resolved.warnings == []


def test_bad_local_folder_raises_even_with_fallback(tmp_path, bundled_default):
    with pytest.raises(BundleError, match="No checkpoint folder"):
        resolve_bundle(str(tmp_path / "typo"), fallback=True)
    broken = make_bundle(tmp_path / "broken")
    (broken / "calibration.json").unlink()
    with pytest.raises(BundleError, match=r"missing calibration\.json"):
        resolve_bundle(str(broken), fallback=True)


def test_unknown_plain_name_raises_instead_of_guessing(bundled_default):
    with pytest.raises(BundleError, match="Unknown checkpoint 'defualt'"):
        resolve_bundle("defualt")


def test_registry_names_cannot_look_like_hub_ids(monkeypatch):
    monkeypatch.setattr(hub, "REGISTRY", dict(hub.REGISTRY))
    with pytest.raises(ValueError):
        hub.register(BundleSpec("org/name", None, None, {}))
    hub.register(BundleSpec("extra", None, None, {}))
    assert hub.list_bundles() == ["default", "extra"]


# -- model card and push ------------------------------------------------------------------------------------------


def test_model_card_reports_metrics_data_and_recipe(tmp_path):
    card = model_card.make_model_card(make_bundle(tmp_path / "b", readme=False), repo_id="org/tiny")

    front_matter = card.split("---\n")[1]
    assert "library_name: vaedetect" in front_matter and "- deepfake-detection" in front_matter
    assert "value: 0.9312" in front_matter and "value: 0.118" in front_matter  # metrics: the Hub's model-index
    assert "**SyntheticTalkers**: CC-BY-4.0" in card and "- optimizer: adamw" in card
    assert 'load_detector("org/tiny@<commit>")' in card and "## Limits" in card and "**Intended uses**" in card
    assert "**Out of scope**" in card and "## What it was trained on" in card
    assert "Not measured yet" in card  # no tier_rates: no numbers invented


def test_model_card_reads_for_people_and_its_measured_table_comes_from_the_bundle(tmp_path):
    """Issue 32: no rule numbers, data paths or command lines; the measured table is the bundle's tier_rates."""
    folder = write_tier_rates(make_bundle(tmp_path / "b", readme=False))
    card = model_card.make_model_card(folder)
    body = card.split("---\n", 2)[2]
    assert "| Real files (286) | 80 % | 20 % | 0 % |" in body
    assert "| Fakes from 9 families it never saw (106) | 45 % | 50 % | 5 % |" in body
    assert "| Fakes from 1 family it never saw (11) | 36 % | 64 % | 0 % |" in body
    rates = json.loads((folder / "calibration.json").read_text())["tier_rates"]
    rates["video"]["fakes"] = {"real": 0.3, "uncertain": 0.6, "fake": 0.1}  # new measurements, new card
    write_tier_rates(folder, rates)
    assert "| 30 % | 60 % | 10 % |" in model_card.make_model_card(folder)
    for lab_notebook in ("rule ", "../shared", "python -m", "--checkpoint", "bench/"):
        assert lab_notebook not in body
    rates["video"]["per_family"] = {"EMO": {"n_fake": 4, "fakes": {"real": 0.25, "uncertain": 0.75, "fake": 0.0}}}
    write_tier_rates(folder, rates)
    assert "| … EMO (4) | 25 % | 75 % | 0 % |" in model_card.make_model_card(folder)


def test_the_shipped_model_card_is_the_generated_one_and_reads_for_people():
    folder = Path(__file__).resolve().parents[1] / "assets" / "checkpoints" / "default"
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text == model_card.make_model_card(folder), (
        "the shipped card is out of date with its bundle: write model_card.make_model_card(folder) to its README.md"
    )
    for lab_notebook in ("rule ", "Rule ", "../shared", "python -m", "--checkpoint", "bench/"):
        assert lab_notebook not in text.split("---\n", 2)[2], lab_notebook


def test_model_card_puts_measured_metrics_in_the_hub_model_index(tmp_path):
    folder = make_bundle(tmp_path / "b", readme=False)
    cal = json.loads((folder / "calibration.json").read_text())
    cal["metrics"]["eval_dev"] = {"auc": 0.8671, "ap": 0.8997, "n": 41, "per_kind": {"x": {"n": 3}}}
    (folder / "calibration.json").write_text(json.dumps(cal))

    card = ModelCard(model_card.make_model_card(folder))

    got = {(r.dataset_name, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert got[("eval_dev", "roc_auc")] == 0.8671 and got[("eval_dev", "average_precision")] == 0.8997
    assert got[("calibration", "roc_auc")] == 0.9312 and got[("calibration", "eer")] == 0.118
    assert card.data.model_name == "tiny" and card.data.library_name == "vaedetect"
    assert "eval_dev" not in card.text  # the metric dump is for the Hub's widget; the text reads for people


def test_model_card_says_unknown_when_bundle_records_nothing(tmp_path):
    folder = make_bundle(tmp_path / "b", readme="Some hand notes, no front matter.")
    (folder / "config.json").write_text('{"bundle_version": 1}')
    (folder / "calibration.json").write_text("{}")

    card = model_card.make_model_card(folder)

    assert "Unknown: this bundle records neither its training data nor their licences" in card
    assert "Not measured yet" in card
    assert "## Notes\n\nSome hand notes, no front matter." in card


@pytest.mark.parametrize("xet", [True, False], ids=["xet-pipeline", "create-commit"])
def test_push_bundle_uploads_end_to_end_and_result_is_loadable(fake_hub, cache, tmp_path, monkeypatch, xet):
    # With hf_xet installed upload_folder takes the pipelined path, otherwise create_commit: both must work.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", not xet)
    folder = make_bundle(tmp_path / "to-push", name="pushed", readme=False)
    checked: list[Path] = []

    sha = hub.push_bundle(folder, "me/pushed", token="hf_fake", validate=checked.append)

    assert checked == [folder]
    assert model_card.CARD_MARKER in (folder / "README.md").read_text()
    assert fake_hub.repos["me/pushed"].refs["main"] == sha
    uploaded = fake_hub.repos["me/pushed"].commits[sha]
    assert set(uploaded) == {".gitattributes", "README.md", "weights.safetensors", *REQUIRED_FILES}
    assert fake_hub.count("/api/validate-yaml") >= 1  # the card front matter is checked server-side
    resolved = resolve_bundle(f"me/pushed@{sha}", cache_dir=cache, fallback=False)
    assert resolved.config.name == "pushed" and "value: 0.9312" in (resolved.path / "README.md").read_text()


def test_push_bundle_keeps_a_hand_written_card(fake_hub, tmp_path):
    card = "---\nlicense: mit\nlibrary_name: vaedetect\n---\n# Written by a human\n"
    folder = make_bundle(tmp_path / "b", readme=card)

    sha = hub.push_bundle(folder, "me/handmade", token="hf_fake")

    assert (folder / "README.md").read_text() == card
    assert fake_hub.repos["me/handmade"].commits[sha]["README.md"] == card.encode()


def test_push_bundle_refuses_before_any_request_when_checks_fail(fake_hub, tmp_path):
    folder = make_bundle(tmp_path / "b")

    def smoke_test(path: Path) -> None:
        raise RuntimeError("synthetic clip crashed the detector")

    with pytest.raises(BundleError, match="synthetic clip crashed"):
        hub.push_bundle(folder, "me/bad", token="hf_fake", validate=smoke_test)
    (folder / "extra.pkl").write_bytes(b"x")
    with pytest.raises(BundleError, match="pickle-type"):
        hub.push_bundle(folder, "me/bad", token="hf_fake")
    assert fake_hub.requests == []
