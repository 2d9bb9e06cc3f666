"""A loopback server for the Hugging Face Hub HTTP API calls our scripts make.

huggingface_hub talks HTTP to $HF_ENDPOINT; pointing it here runs the real client code against
real bytes: file resolve (HEAD + GET) for model and dataset repos, repo creation, preupload and
ndjson commits, YAML validation, repo info, repo settings (visibility). Private repos are invisible without a valid token
(404 RepoNotFound, as on the Hub); a token that is not known is answered 401.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


@dataclass
class Repo:
    private: bool = False
    files: dict[str, bytes] = field(default_factory=dict)
    commits: int = 0

    @property
    def sha(self) -> str:
        digest = hashlib.sha1(f"{self.commits}".encode())
        for name in sorted(self.files):
            digest.update(name.encode() + hashlib.sha1(self.files[name]).digest())
        return digest.hexdigest()


class FakeHub:
    def __init__(self, tokens: dict[str, str] | None = None):
        self.tokens = tokens or {"hf_writer_token_123456": "tester"}  # token -> user
        self.repos: dict[tuple[str, str], Repo] = {}  # (type, repo_id) -> Repo
        self.requests: list[tuple[str, str, dict]] = []
        self._server = None

    # --- set-up helpers for tests ---------------------------------------------------------------

    def add_repo(self, repo_id: str, files: dict[str, bytes], repo_type: str = "model", private: bool = False) -> Repo:
        repo = Repo(private=private, files=dict(files), commits=1)
        self.repos[(repo_type, repo_id)] = repo
        return repo

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> "FakeHub":
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                hub._dispatch(self, "HEAD")

            def do_GET(self):
                hub._dispatch(self, "GET")

            def do_POST(self):
                hub._dispatch(self, "POST")

            def do_PUT(self):
                hub._dispatch(self, "PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- HTTP -------------------------------------------------------------------------------------

    def _reply(self, h, status: int, body: bytes = b"", headers: dict | None = None, head_only: bool = False):
        h.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            h.send_header(key, value)
        h.end_headers()
        if body and not head_only:
            h.wfile.write(body)

    def _json(self, h, status: int, payload, headers: dict | None = None, head_only=False):
        self._reply(h, status, json.dumps(payload).encode(), headers, head_only)

    def _user(self, h) -> tuple[bool, str | None]:
        """(acceptable, user): no token is acceptable (anonymous); an unknown token is not."""
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return True, None
        token = auth[len("Bearer ") :].strip()
        return token in self.tokens, self.tokens.get(token)

    def _visible(self, repo: Repo | None, user: str | None) -> bool:
        return repo is not None and (not repo.private or user is not None)

    def _dispatch(self, h, method: str) -> None:
        path = unquote(urlparse(h.path).path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        self.requests.append((method, path, dict(h.headers)))
        ok, user = self._user(h)
        if not ok:
            return self._json(h, 401, {"error": "Invalid credentials in Authorization header"}, head_only=method == "HEAD")

        # File resolve: /{repo}/resolve/{rev}/{file} and /datasets/{repo}/resolve/{rev}/{file}
        m = re.fullmatch(r"/(datasets/|models/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m and method in ("HEAD", "GET"):
            repo_type = "dataset" if m.group(1) == "datasets/" else "model"
            repo = self.repos.get((repo_type, m.group(2)))
            if not self._visible(repo, user):
                return self._json(h, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}, method == "HEAD")
            if m.group(3) not in ("main", repo.sha):
                return self._json(h, 404, {"error": "Revision not found"}, {"X-Error-Code": "RevisionNotFound"}, method == "HEAD")
            content = repo.files.get(m.group(4))
            if content is None:
                return self._json(h, 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"}, method == "HEAD")
            etag = f'"{hashlib.sha1(content).hexdigest()}"'
            return self._reply(
                h, 200, content, {"Content-Type": "application/octet-stream", "ETag": etag, "X-Repo-Commit": repo.sha}, method == "HEAD"
            )

        if path == "/api/repos/create" and method == "POST":
            if user is None:
                return self._json(h, 401, {"error": "You must be authenticated to create a repo"})
            payload = json.loads(body)
            repo_id = f"{payload.get('organization') or user}/{payload['name']}"
            repo_type = payload.get("type") or "model"
            if (repo_type, repo_id) in self.repos:
                return self._json(h, 409, {"error": "You already created this repo", "url": f"{self.url}/{repo_id}"})
            self.repos[(repo_type, repo_id)] = Repo(private=payload.get("visibility") == "private" or bool(payload.get("private")))
            prefix = "datasets/" if repo_type == "dataset" else ""
            return self._json(h, 200, {"url": f"{self.url}/{prefix}{repo_id}", "name": repo_id})

        if path == "/api/validate-yaml" and method == "POST":
            return self._json(h, 200, {"errors": [], "warnings": []})

        m = re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if m and method == "GET":
            repo = self.repos.get((m.group(1)[:-1], m.group(2)))
            if not self._visible(repo, user):
                return self._json(h, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return self._json(
                h,
                200,
                {"id": m.group(2), "sha": repo.sha, "private": repo.private, "siblings": [{"rfilename": f} for f in sorted(repo.files)]},
            )

        # Repo settings (visibility): only the namespace's own user may change them, as only admins can on the Hub.
        m = re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)/settings", path)
        if m and method == "PUT":
            repo = self.repos.get((m.group(1)[:-1], m.group(2)))
            if not self._visible(repo, user):
                return self._json(h, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            if user is None:
                return self._json(h, 401, {"error": "You must be authenticated to change settings"})
            if m.group(2).split("/")[0] != user:
                return self._json(h, 403, {"error": "You don't have the rights to update the settings of this repository"})
            payload = json.loads(body)
            if payload.get("visibility") in ("private", "public"):
                repo.private = payload["visibility"] == "private"
            elif isinstance(payload.get("private"), bool):
                repo.private = payload["private"]
            return self._json(h, 200, {"private": repo.private})

        m = re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)/(preupload|commit)/([^/]+)", path)
        if m and method == "POST":
            repo = self.repos.get((m.group(1)[:-1], m.group(2)))
            if not self._visible(repo, user):
                return self._json(h, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            if user is None:
                return self._json(h, 401, {"error": "You must be authenticated to write"})
            if m.group(3) == "preupload":
                files = json.loads(body)["files"]
                return self._json(h, 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})
            for line in body.decode().splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    repo.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                elif item["key"] == "deletedFile":
                    repo.files.pop(item["value"]["path"], None)
            repo.commits += 1
            prefix = "datasets/" if m.group(1) == "datasets" else ""
            return self._json(
                h, 200, {"commitUrl": f"{self.url}/{prefix}{m.group(2)}/commit/{repo.sha}", "commitOid": repo.sha, "pullRequestUrl": None}
            )

        return self._json(h, 404, {"error": f"not implemented in the fake hub: {method} {path}"})
