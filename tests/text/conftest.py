"""Fixtures for the text tests: small side information written in the exact schema, shared encoders."""
from __future__ import annotations

import pytest

from zeroskel.text.sideinfo import PHASES, SideInformation

CLASSES = ["right hand wave", "sit to stand", "stand to sit"]


def make_side_info(class_names=CLASSES, n: int = 3, dataset: str = "toy") -> SideInformation:
    """Distinct, readable descriptions: '<class> <phase> variant <i>'."""
    return SideInformation(
        {c: {p: [f"{c} {p.replace('_', ' ')} variant {i}" for i in range(n)] for p in PHASES} for c in class_names},
        dataset=dataset, source="test",
    )


@pytest.fixture
def side_info() -> SideInformation:
    return make_side_info()


@pytest.fixture(scope="session")
def minilm():
    from zeroskel.text.encoders import get_text_encoder

    return get_text_encoder("minilm")


class CountingEncoder:
    """Wraps an encoder and records every text it is asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.id = inner.id
        self.dim = inner.dim
        self.calls: list[list[str]] = []

    @property
    def texts_encoded(self) -> int:
        return sum(len(c) for c in self.calls)

    def encode(self, texts):
        self.calls.append(list(texts))
        return self.inner.encode(texts)


@pytest.fixture
def counting():
    return CountingEncoder


@pytest.fixture
def make_si():
    return make_side_info


# --- a real OpenAI-compatible chat server on loopback, answering from a script ---------------------------

import json  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

REASK_PREFIX = "Your answer could not be used"


def scripted_answer(body: dict, n: int) -> str:
    """A well-formed answer that names the class and the turn it answers (derived from the conversation)."""
    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    name = re.search(r'The action is "(.+?)"', users[0]).group(1)
    turn = sum(1 for u in users if not u.startswith(REASK_PREFIX)) - 1
    return json.dumps([f"{name} turn {turn} person {i}" for i in range(n)])


class ScriptedLLM:
    """Records every request; ``behaviour(index, body)`` returns ``("ok",)``, ``("status", code)``,
    ``("content", text)``, ``("raw", text)`` (an HTTP 200 with that body, not a chat completion),
    ``("sleep", seconds)`` (answer normally after a delay) or ``("reset",)`` (close without answering)."""

    def __init__(self, n: int = 3, behaviour=None):
        self.n = n
        self.behaviour = behaviour or (lambda i, body: ("ok",))
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.lock = threading.Lock()
        llm = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with llm.lock:
                    index = len(llm.requests)
                    llm.requests.append(body)
                    llm.headers.append(dict(self.headers))
                assert self.path == "/v1/chat/completions", self.path
                action = llm.behaviour(index, body)
                if action[0] == "reset":
                    self.close_connection = True
                    return
                if action[0] == "sleep":
                    time.sleep(action[1])
                    action = ("ok",)
                if action[0] == "status":
                    payload, code = json.dumps({"error": {"message": "scripted failure"}}).encode(), action[1]
                elif action[0] == "raw":
                    payload, code = action[1].encode(), 200
                else:
                    content = scripted_answer(body, llm.n) if action[0] == "ok" else action[1]
                    payload, code = json.dumps({"choices": [{"index": 0, "message": {
                        "role": "assistant", "content": content}, "finish_reason": "stop"}]}).encode(), 200
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def llm_server():
    """Factory: ``with llm_server(n=3, behaviour=...) as srv: ...``."""
    return ScriptedLLM
