"""A Hugging Face hub on 127.0.0.1: just the part of its HTTP interface that fetching uses.

    GET  /api/models/{repo}[/revision/{rev}] repository info (?blobs=true: sizes, LFS sha256)
    HEAD /{repo}/resolve/{rev}/{path}        ETag, X-Repo-Commit, Content-Length
    GET  /{repo}/resolve/{rev}/{path}        the bytes (Range honoured)

Each repository sits at one commit, reachable as ``main`` or by its sha. Errors carry the hub's
``X-Error-Code`` header, which the real client turns into its exceptions. A gated repository, as
on the real hub, shows its listing to anyone but answers 403 for its files unless the request
carries its token. The real ``huggingface_hub`` client talks to it
through ``endpoint=`` / ``HF_ENDPOINT``: nothing is mocked.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".bin", ".safetensors", ".npz")


@dataclass
class Repo:
    files: dict[str, bytes]
    licence: str = "apache-2.0"
    token: str | None = None  # set: the repository is gated, and this token has accepted its conditions
    served: dict[str, bytes] = field(default_factory=dict)  # bytes to serve instead of what the listing describes
    sha: str = field(init=False)

    def __post_init__(self):
        digest = hashlib.sha1()
        for path in sorted(self.files):
            digest.update(path.encode() + b"\0" + self.files[path])
        self.sha = digest.hexdigest()

    def sibling(self, path: str) -> dict:
        data = self.files[path]
        row = {
            "rfilename": path,
            "size": len(data),
            "blobId": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
        }
        if path.endswith(LFS_SUFFIXES):
            row["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
        return row


class FakeHub:
    """``with FakeHub({"org/name": Repo({...})}) as hub:`` serves on ``hub.url`` until the block ends."""

    def __init__(self, repos: dict[str, Repo]):
        self.repos = repos
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Authorization header)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                self._answer(body=True)

            def do_HEAD(self):
                self._answer(body=False)

            def _answer(self, body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                hub.requests.append((self.command, path, self.headers.get("Authorization")))
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "models"] and (len(parts) == 4 or len(parts) == 6 and parts[4] == "revision"):
                    repo = self._repo("/".join(parts[2:4]), parts[5] if len(parts) == 6 else "main", body, files=False)
                    if repo:
                        info = {
                            "id": "/".join(parts[2:4]),
                            "sha": repo.sha,
                            "private": False,
                            "gated": "manual" if repo.token else False,
                            "cardData": {"license": repo.licence},
                            "siblings": [repo.sibling(p) for p in sorted(repo.files)],
                        }
                        self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, body)
                elif len(parts) >= 5 and parts[2] == "resolve":
                    repo = self._repo("/".join(parts[:2]), parts[3], body, files=True)
                    if repo:
                        self._file(repo, "/".join(parts[4:]), body)
                else:
                    self._error(404, "EntryNotFound", "no such endpoint", body)

            def _repo(self, repo_id: str, revision: str, body: bool, files: bool) -> Repo | None:
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self._error(401, "RepoNotFound", f"Repository {repo_id} not found", body)
                elif files and repo.token and self.headers.get("Authorization") != f"Bearer {repo.token}":
                    self._error(403, "GatedRepo", f"Access to model {repo_id} is restricted.", body)
                elif revision not in ("main", repo.sha):
                    self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", body)
                else:
                    return repo
                return None

            def _file(self, repo: Repo, name: str, body: bool) -> None:
                if name not in repo.files:
                    self._error(404, "EntryNotFound", f"{name} does not exist", body, {"X-Repo-Commit": repo.sha})
                    return
                data = repo.served.get(name, repo.files[name])
                sibling = repo.sibling(name)
                etag = sibling["lfs"]["sha256"] if "lfs" in sibling else sibling["blobId"]
                headers = {
                    "ETag": f'"{etag}"',
                    "X-Repo-Commit": repo.sha,
                    "Accept-Ranges": "bytes",
                    "Content-Type": "application/octet-stream",
                }
                start = 0
                if (wanted := self.headers.get("Range", "")).startswith("bytes="):
                    start = int(wanted[len("bytes=") :].split("-")[0] or 0)
                    headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                self._send(206 if start else 200, data[start:], headers, body)

            def _error(self, status: int, code: str, message: str, body: bool, extra: dict | None = None) -> None:
                headers = {
                    "X-Error-Code": code,
                    "X-Error-Message": message,
                    "Content-Type": "application/json",
                    **(extra or {}),
                }
                self._send(status, json.dumps({"error": message}).encode(), headers, body)

            def _send(self, status: int, data: bytes, headers: dict, body: bool) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

        return Handler
