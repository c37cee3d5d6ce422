"""A fake Hugging Face Hub on 127.0.0.1, speaking the HTTP that huggingface_hub 2.4.0 uses.

Why: the checkpoint code must be tested against the real client (caching, offline mode, revision pinning, upload)
without network access. This server implements just the endpoints the client calls, read from the installed
``huggingface_hub`` source:

download (``snapshot_download``)
    ``GET  /api/models/{repo}[/revision/{rev}]``   -> ``{"id", "sha", "siblings": [{"rfilename"}]}`` (repo_info; skipped
                                                     by the client when the revision already is a 40-hex commit)
    ``GET  /api/models/{repo}/tree/{rev}[/{path}]`` -> ``[{"type": "file", "path", "size", "oid"}]`` (one page)
    ``HEAD|GET /{repo}/resolve/{rev}/{file}``       -> ``X-Repo-Commit``, ``ETag`` (git blob sha1), ``Content-Length``
upload (``HfApi.create_repo`` + ``upload_folder``; every file is answered ``uploadMode: regular``, so neither LFS nor
Xet is involved and the file bytes arrive base64-encoded in the commit's NDJSON body)
    ``POST /api/repos/create``, ``POST /api/validate-yaml``, ``POST /api/models/{repo}/preupload/{rev}``,
    ``POST /api/models/{repo}/commit/{rev}``
misc
    ``GET  /api/agent-harnesses`` (fetched by the client's user-agent code unless telemetry is disabled)

Errors carry the ``X-Error-Code`` header (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) that
``hf_raise_for_status`` maps to typed exceptions. Every request is recorded in :attr:`FakeHub.requests` so tests can
assert "no request at all". Each commit is an immutable snapshot; branches are refs that move.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob: what the Hub uses as ETag and tree ``oid`` for non-LFS files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class FakeRepo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> {path: content}
    refs: dict[str, str] = field(default_factory=dict)  # branch -> sha


class FakeHub:
    """Threaded HTTP server holding model repos in memory. Use as a context manager or call start()/stop()."""

    def __init__(self) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path without query)
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        # A short poll interval makes shutdown() (called per test) take milliseconds instead of 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-hub", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state ----------------------------------------------------------------------------------------------------

    def commit(
        self, repo_id: str, files: dict[str, bytes] | Path, *, branch: str = "main", replace: bool = True
    ) -> str:
        """Add a commit on ``branch`` (created with the repo if needed) and return its 40-hex sha.

        ``files`` is a mapping or a folder (its top-level files). ``replace`` drops the parent's files first.
        """
        if isinstance(files, Path):
            files = {p.name: p.read_bytes() for p in sorted(files.iterdir()) if p.is_file()}
        with self._lock:
            repo = self.repos.setdefault(repo_id, FakeRepo())
            parent = repo.commits.get(repo.refs.get(branch, ""), {})
            content = dict(files) if replace else {**parent, **files}
            sha = hashlib.sha1(f"{repo_id}:{next(self._counter)}".encode()).hexdigest()
            repo.commits[sha] = content
            repo.refs[branch] = sha
            return sha

    def count(self, prefix: str = "", method: str | None = None) -> int:
        """Requests whose path starts with ``prefix`` (and whose method is ``method``, when given)."""
        with self._lock:
            return sum(1 for m, path in self.requests if path.startswith(prefix) and method in (None, m))

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def _resolve(self, repo_id: str, revision: str) -> tuple[str, dict[str, bytes]] | str:
        """Return (sha, files), or the X-Error-Code to answer with."""
        repo = self.repos.get(repo_id)
        if repo is None:
            return "RepoNotFound"
        sha = repo.refs.get(revision, revision)
        if sha not in repo.commits:
            return "RevisionNotFound"
        return sha, repo.commits[sha]


def _make_handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, obj: object, status: int = 200, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})

        def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
            error_headers = {"X-Error-Code": code, "X-Error-Message": message, **(headers or {})}
            self._json({"error": message}, status, error_headers)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _route(self) -> None:
            raw_path = urlsplit(self.path).path
            with hub._lock:
                hub.requests.append((self.command, unquote(raw_path)))
            parts = raw_path.strip("/").split("/")
            try:
                self._dispatch(parts)
            except Exception as err:  # a bug in the fake must show up as a 500, not a hung client
                self._json({"error": repr(err)}, 500)

        def _dispatch(self, parts: list[str]) -> None:
            method = self.command
            if parts[:2] == ["api", "agent-harnesses"]:
                return self._json({"standardEnvVars": [], "harnesses": {}})
            if parts[:2] == ["api", "validate-yaml"] and method == "POST":
                self._body()
                return self._json({"errors": [], "warnings": []})
            if parts[:3] == ["api", "repos", "create"] and method == "POST":
                return self._create_repo(json.loads(self._body()))
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                repo_id = f"{unquote(parts[2])}/{unquote(parts[3])}"
                action, rest = (parts[4], parts[5:]) if len(parts) > 4 else ("revision", ["main"])
                revision = unquote(rest[0]) if rest else "main"
                if action == "preupload" and method == "POST":
                    return self._preupload(repo_id, revision, json.loads(self._body()))
                if action == "commit" and method == "POST":
                    return self._commit(repo_id, revision, self._body())
                found = hub._resolve(repo_id, revision)
                if isinstance(found, str):
                    return self._error(404, found, f"{found}: {repo_id}@{revision}")
                sha, files = found
                if action == "revision":
                    siblings = [{"rfilename": p} for p in sorted(files)]
                    return self._json({"id": repo_id, "sha": sha, "private": False, "siblings": siblings})
                if action == "tree":
                    prefix = "/".join(unquote(p) for p in rest[1:])
                    entries = [
                        {"type": "file", "path": p, "size": len(data), "oid": git_blob_sha1(data)}
                        for p, data in sorted(files.items())
                        if not prefix or p.startswith(prefix + "/")
                    ]
                    return self._json(entries)
            if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
                repo_id, revision = f"{unquote(parts[0])}/{unquote(parts[1])}", unquote(parts[3])
                filename = unquote("/".join(parts[4:]))
                found = hub._resolve(repo_id, revision)
                if isinstance(found, str):
                    return self._error(404, found, f"{found}: {repo_id}@{revision}")
                sha, files = found
                if filename not in files:
                    return self._error(404, "EntryNotFound", f"{filename} not in {repo_id}", {"X-Repo-Commit": sha})
                data = files[filename]
                headers = {"X-Repo-Commit": sha, "ETag": f'"{git_blob_sha1(data)}"'}
                return self._send(200, data, {"Content-Type": "application/octet-stream", **headers})
            self._error(404, "NotFound", f"fake hub: no route for {method} {self.path}")

        def _create_repo(self, payload: dict) -> None:
            repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            url = {"url": f"{hub.url}/{repo_id}"}
            with hub._lock:
                if repo_id in hub.repos:
                    return self._json({"error": "You already created this model repo", **url}, 409)
                hub.repos[repo_id] = FakeRepo()
            # A new Hub repo starts with one commit holding .gitattributes.
            hub.commit(repo_id, {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"})
            self._json(url)

        def _preupload(self, repo_id: str, revision: str, payload: dict) -> None:
            found = hub._resolve(repo_id, revision)
            if isinstance(found, str):
                return self._error(404, found, f"{found}: {repo_id}@{revision}")
            _, files = found
            answer = [
                {
                    "path": f["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": git_blob_sha1(files[f["path"]]) if f["path"] in files else None,
                }
                for f in payload["files"]
            ]
            self._json({"files": answer})

        def _commit(self, repo_id: str, revision: str, body: bytes) -> None:
            found = hub._resolve(repo_id, revision)
            if isinstance(found, str):
                return self._error(404, found, f"{found}: {repo_id}@{revision}")
            changes: dict[str, bytes] = {}
            deleted: set[str] = set()
            for line in body.splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    changes[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                elif item["key"] == "deletedFile":
                    deleted.add(item["value"]["path"])
                elif item["key"] != "header":
                    return self._error(400, "BadRequest", f"fake hub: unsupported commit entry {item['key']}")
            kept = {p: d for p, d in found[1].items() if p not in deleted}
            sha = hub.commit(repo_id, {**kept, **changes}, branch=revision)
            self._json({"commitUrl": f"{hub.url}/{repo_id}/commit/{sha}", "commitOid": sha, "success": True})

        do_GET = do_HEAD = do_POST = _route

    return Handler
