"""A package index on 127.0.0.1 for installer tests: wheels the tests make, served with
upload times (PEP 691 JSON, with PEP 700's ``upload-time``), every file download counted."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import shutil
import threading
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def make_wheel(directory: Path, name: str, version: str, *, requires: tuple[str, ...] = (),
               tag: str = "py2.py3-none-any") -> Path:
    """A pure-Python wheel of one module ``name`` whose ``VERSION`` is ``version``."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: citrace-tests\n"
                              "Root-Is-Purelib: true\n"
                              + "".join(f"Tag: {t}-{tag.split('-', 1)[1]}\n"
                                        for t in tag.split("-")[0].split(".")),
    }
    record = [f"{path},sha256={_digest(text.encode())},{len(text.encode())}"
              for path, text in files.items()]
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    path = directory / f"{module}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name_in_zip, text in files.items():
            archive.writestr(name_in_zip, text)
    return path


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@dataclass
class LocalIndex:
    """Serves ``add``ed files under ``/simple/`` until ``close``; ``downloads`` counts the
    files fetched, by file name."""

    root: Path
    files: dict[str, list[tuple[Path, str]]] = field(default_factory=dict)
    downloads: Counter[str] = field(default_factory=Counter)
    server: http.server.ThreadingHTTPServer | None = None

    def add(self, project: str, path: Path, uploaded: str) -> None:
        kept = self.root / path.name
        if path != kept:
            shutil.copyfile(path, kept)
        self.files.setdefault(_normalize(project), []).append((kept, uploaded))

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/simple/"

    def start(self) -> LocalIndex:
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                index.answer(self, body=True)

            def do_HEAD(self) -> None:  # noqa: N802 - uv asks whether ranges are served
                index.answer(self, body=False)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def answer(self, request: http.server.BaseHTTPRequestHandler, *, body: bool) -> None:
        parts = [p for p in request.path.split("?")[0].split("/") if p]
        if len(parts) == 2 and parts[0] == "simple" and _normalize(parts[1]) in self.files:
            project = _normalize(parts[1])
            if JSON_TYPE in request.headers.get("Accept", ""):
                page = json.dumps(self._project_page(project)).encode()
                return _send(request, 200, page, JSON_TYPE, cache="max-age=0", body=body)
            # pip before 22.2 (Python 2's) reads PEP 503 HTML only.
            return _send(request, 200, self._html_page(project), "text/html",
                         cache="max-age=0", body=body)
        if len(parts) == 2 and parts[0] == "files" and (self.root / parts[1]).is_file():
            if body:
                self.downloads[parts[1]] += 1
            data = (self.root / parts[1]).read_bytes()
            return _send(request, 200, data, "application/octet-stream",
                         cache="max-age=31536000, immutable", body=body)
        return _send(request, 404, b"not here", "text/plain", cache="no-store", body=body)

    def _html_page(self, project: str) -> bytes:
        links = "".join(f'<a href="/files/{path.name}#sha256='
                        f'{hashlib.sha256(path.read_bytes()).hexdigest()}">{path.name}</a>\n'
                        for path, _ in self.files[project])
        return f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()

    def _project_page(self, project: str) -> dict[str, object]:
        entries = [{"filename": path.name, "url": f"/files/{path.name}",
                    "hashes": {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
                    "upload-time": uploaded}
                   for path, uploaded in self.files[project]]
        return {"meta": {"api-version": "1.1"}, "name": project, "files": entries}


def _send(request: http.server.BaseHTTPRequestHandler, status: int, data: bytes,
          content_type: str, *, cache: str, body: bool) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(data)))
    request.send_header("Cache-Control", cache)
    request.end_headers()
    if body:
        request.wfile.write(data)


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
