"""Generate side information with an LLM behind any OpenAI-compatible chat endpoint (stdlib urllib only).

One multi-turn conversation per class (``zeroskel.text.prompts``): spatial coarse -> mid -> fine, then
temporal start -> middle -> end; each turn's messages include all earlier turns and answers. Every answer is
written to the cache folder as soon as it arrives (atomically), so a rerun after a crash, an interrupt or a
failed class makes only the calls still missing. A conversation (and its cache key) depends only on its
class, the dataset context and the settings, never on the other classes: adding a class to a vocabulary asks
only about the new class. A cache file that cannot be read is reported by its path and its conversation
asked again.

    client = ChatClient(LLMConfig.from_env(base_url="http://localhost:8000/v1", model="qwen2.5-72b"))
    si = describe_classes(["sit to stand", "stand to sit"], client, num_descriptions=10, cache_dir="cache/")

Configuration falls back to ``$ZEROSKEL_LLM_BASE_URL``, ``$ZEROSKEL_LLM_MODEL`` and ``$OPENAI_API_KEY``.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from zeroskel.text import prompts
from zeroskel.text.sideinfo import PHASES, SideInformation, validate, write_json_atomic

ENV_BASE_URL = "ZEROSKEL_LLM_BASE_URL"
ENV_MODEL = "ZEROSKEL_LLM_MODEL"
ENV_API_KEY = "OPENAI_API_KEY"
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
NUM_DESCRIPTIONS = 10  # default N_a per class and phase


class LLMError(RuntimeError):
    """The endpoint failed (after retries for transient errors)."""


class _BadReply(Exception):
    """An HTTP 200 whose body is not a chat completion (retried like a 5xx)."""


class MalformedAnswer(ValueError):
    """An answer that is not a usable list of descriptions (``phase``: the turn, when known)."""

    def __init__(self, message: str, phase: str = ""):
        super().__init__(message)
        self.phase = phase


class DescribeError(RuntimeError):
    """Some classes could not be described; ``failures`` lists (class, phase, reason)."""

    def __init__(self, failures: list[tuple[str, str, str]]):
        self.failures = failures
        lines = [f"class {c!r} phase {p!r}: {r}" for c, p, r in failures]
        super().__init__(f"{len(failures)} class(es) failed:\n  " + "\n  ".join(lines))


@dataclass
class LLMConfig:
    """Endpoint and retry settings.

    Args:
        base_url: e.g. ``https://api.openai.com/v1`` (``/chat/completions`` is appended).
        model: model name sent in each request.
        api_key: bearer token (optional for local servers).
        temperature: sampling temperature.
        timeout: seconds per HTTP request.
        max_retries: retries of a transient error (429, 5xx, connection reset/refused, timeout, an HTTP 200
            whose body is not a chat completion).
        backoff: first retry delay in seconds; doubles each retry, capped at ``backoff_max``.
    """

    base_url: str
    model: str
    api_key: str | None = None
    temperature: float = 0.7
    max_tokens: int | None = None
    timeout: float = 120.0
    max_retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0

    @classmethod
    def from_env(cls, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 **kwargs) -> "LLMConfig":
        base_url = base_url or os.environ.get(ENV_BASE_URL)
        model = model or os.environ.get(ENV_MODEL)
        if not base_url:
            raise ValueError(f"no LLM endpoint: pass --base-url or set ${ENV_BASE_URL}")
        if not model:
            raise ValueError(f"no LLM model: pass --model or set ${ENV_MODEL}")
        return cls(base_url=base_url, model=model, api_key=api_key or os.environ.get(ENV_API_KEY), **kwargs)


@dataclass
class ChatClient:
    """Minimal OpenAI-compatible chat client: ``complete(messages) -> str`` with retries."""

    config: LLMConfig
    sleep: Callable[[float], None] = time.sleep
    calls: int = field(default=0, init=False)  # HTTP requests made (retries included)

    @property
    def url(self) -> str:
        return self.config.base_url.rstrip("/") + "/chat/completions"

    def _request(self, messages: list[dict]) -> str:
        body = {"model": self.config.model, "messages": messages, "temperature": self.config.temperature}
        if self.config.max_tokens:
            body["max_tokens"] = self.config.max_tokens
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"), headers=headers,
                                     method="POST")
        self.calls += 1
        with urllib.request.urlopen(req, timeout=self.config.timeout) as resp:
            raw = resp.read()
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise _BadReply(f"HTTP 200 whose body is not a chat completion: {raw[:200]!r}") from None
        if content is not None and not isinstance(content, str):
            raise _BadReply(f"HTTP 200 whose message content is {type(content).__name__}, not text")
        return content or ""

    def complete(self, messages: list[dict]) -> str:
        """Send ``messages``; retry transient failures with exponential backoff; return the reply text."""
        delay = self.config.backoff
        for attempt in range(self.config.max_retries + 1):
            try:
                return self._request(messages)
            except urllib.error.HTTPError as e:
                if e.code not in RETRY_STATUS and e.code < 500:
                    detail = e.read()[:300].decode("utf-8", "replace")
                    raise LLMError(f"{self.url}: HTTP {e.code} {e.reason}: {detail}") from None
                reason = f"HTTP {e.code}"
                retry_after = e.headers.get("Retry-After") if e.headers else None
                wait = float(retry_after) if retry_after and retry_after.isdigit() else delay
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout,
                    TimeoutError) as e:
                reason, wait = f"{type(e).__name__}: {e}", delay
            except _BadReply as e:
                reason, wait = str(e), delay
            if attempt == self.config.max_retries:
                raise LLMError(f"{self.url}: {reason}, still failing after {attempt + 1} tries")
            self.sleep(min(wait, self.config.backoff_max))
            delay = min(delay * 2, self.config.backoff_max)
        raise AssertionError("unreachable")


# --- parsing -------------------------------------------------------------------------------------------

_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)```", re.S)
_LIST_ITEM = re.compile(r"^\s*(?:\d+\s*[.):]|[-*\u2022])\s+(.+?)\s*$")


def _clean(item: object) -> str:
    if isinstance(item, dict):  # e.g. {"description": "..."}
        values = [v for v in item.values() if isinstance(v, str)]
        item = values[0] if len(values) == 1 else ""
    if not isinstance(item, str):
        return ""
    text = re.sub(r"\s+", " ", item).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text.rstrip(",").strip()


def _json_list(text: str) -> list | None:
    candidates = [text]
    if "[" in text and "]" in text:
        candidates.append(text[text.find("["):text.rfind("]") + 1])
    for cand in candidates:
        try:
            obj = json.loads(cand)
        except ValueError:
            continue
        if isinstance(obj, dict):
            lists = [v for v in obj.values() if isinstance(v, list)]
            obj = lists[0] if len(lists) == 1 else None
        if isinstance(obj, list):
            return obj
    return None


def parse_descriptions(answer: str, num_descriptions: int) -> list[str]:
    """Extract ``num_descriptions`` descriptions from an answer: a JSON list (maybe in a code fence or
    wrapped in an object), else a numbered or bulleted list. Extra items are dropped; fewer is an error."""
    text = answer.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    items = _json_list(text)
    if items is None:
        items = [m.group(1) for line in text.splitlines() if (m := _LIST_ITEM.match(line))]
        if not items:
            raise MalformedAnswer("no JSON list or numbered list found")
    texts = list(dict.fromkeys(t for t in (_clean(i) for i in items) if t))  # non-empty, distinct
    if len(texts) < num_descriptions:
        raise MalformedAnswer(f"{len(texts)} usable descriptions, expected {num_descriptions}")
    return texts[:num_descriptions]


# --- cached conversations -------------------------------------------------------------------------------

class ConversationCache:
    """One JSON file per class conversation: ``{"class", "key", "model", "num_descriptions", "turns": [...]}``;
    each turn ``{"phase", "prompt", "answer", "descriptions"}``. Rewritten atomically after every answer.

    Args:
        cache_dir: folder of the files.
        warn: called with a message naming the file when a cache file cannot be used (default
            ``warnings.warn``); that conversation is then asked again and its file rewritten.
    """

    def __init__(self, cache_dir: str | os.PathLike, warn: Callable[[str], None] | None = None):
        self.dir = Path(cache_dir)
        self.warn = warn or (lambda msg: warnings.warn(msg, RuntimeWarning, stacklevel=3))

    def path(self, class_name: str, key: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", class_name).strip("-")[:40] or "class"
        return self.dir / f"{slug}-{key[:12]}.json"

    def load(self, class_name: str, key: str, num_descriptions: int | None = None) -> list[dict]:
        """The cached turns of one conversation ([] when none, or when the file is corrupt: then warned)."""
        path = self.path(class_name, key)
        if not path.is_file():
            return []
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(obj, dict):
                raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
            if obj.get("key") != key or obj.get("class") != class_name:
                return []  # another conversation's file (the name holds only a key prefix)
            return _check_turns(obj.get("turns"), num_descriptions)
        except (OSError, UnicodeDecodeError, ValueError) as e:
            self.warn(f"{path}: corrupt conversation cache ({e}); asking the conversation of class "
                      f"{class_name!r} again")
            return []

    def save(self, class_name: str, key: str, turns: list[dict], meta: dict) -> None:
        write_json_atomic({"class": class_name, "key": key, **meta, "turns": turns}, self.path(class_name, key))


def _check_turns(turns: object, num_descriptions: int | None) -> list[dict]:
    """The turns of a cache file, checked (phases in order, strings, N_a descriptions); ValueError otherwise."""
    if not isinstance(turns, list) or len(turns) > len(PHASES):
        raise ValueError("field 'turns' must be a list of at most six turns")
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("phase") != PHASES[i]:
            raise ValueError(f"turn {i} is not the {PHASES[i]!r} turn")
        if not isinstance(turn.get("prompt"), str) or not isinstance(turn.get("answer"), str):
            raise ValueError(f"turn {i} ({PHASES[i]}) lacks its prompt or answer text")
        texts = turn.get("descriptions")
        if (not isinstance(texts, list) or not all(isinstance(t, str) and t.strip() for t in texts)
                or (num_descriptions is not None and len(texts) != num_descriptions)):
            raise ValueError(f"turn {i} ({PHASES[i]}) does not hold {num_descriptions or 'its'} descriptions")
    return list(turns)


def conversation_key(class_name: str, model: str, num_descriptions: int, system: str) -> str:
    """Cache key of one class's conversation: its class, the model, N_a, the prompts' version and the system
    message (which holds only the dataset context), never the other classes."""
    blob = json.dumps([prompts.PROMPT_VERSION, class_name, model, num_descriptions, system])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def describe_class(class_name: str, client: ChatClient, cache: ConversationCache, *, num_descriptions: int,
                   system: str, max_reasks: int = 2, log: Callable[[str], None] | None = None) -> dict[str, list[str]]:
    """Run (or resume) the six-turn conversation of one class; return ``{phase: [descriptions]}``."""
    key = conversation_key(class_name, client.config.model, num_descriptions, system)
    meta = {"model": client.config.model, "num_descriptions": num_descriptions,
            "prompt_version": prompts.PROMPT_VERSION}
    turns = cache.load(class_name, key, num_descriptions)
    messages: list[dict] = [{"role": "system", "content": system}]
    for turn in turns:  # replay what was already answered
        messages += [{"role": "user", "content": turn["prompt"]}, {"role": "assistant", "content": turn["answer"]}]
    for phase in PHASES[len(turns):]:
        prompt = prompts.turn_prompt(class_name, phase, num_descriptions)
        attempt = messages + [{"role": "user", "content": prompt}]
        for tries in range(max_reasks + 1):
            try:
                answer = client.complete(attempt)
            except LLMError as e:
                raise LLMError(f"class {class_name!r} phase {phase!r}: {e}") from None
            try:
                descriptions = parse_descriptions(answer, num_descriptions)
                break
            except MalformedAnswer as e:
                if tries == max_reasks:
                    raise MalformedAnswer(f"{e} after {tries + 1} answers; last answer: {answer[:200]!r}",
                                          phase) from None
                if log:
                    log(f"{class_name} / {phase}: malformed answer ({e}), asking again")
                attempt = attempt + [{"role": "assistant", "content": answer},
                                     {"role": "user", "content": prompts.reask_prompt(str(e), num_descriptions)}]
        turns.append({"phase": phase, "prompt": prompt, "answer": answer, "descriptions": descriptions})
        cache.save(class_name, key, turns, meta)
        messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        if log:
            log(f"{class_name} / {phase}: {len(descriptions)} descriptions")
    return {t["phase"]: list(t["descriptions"]) for t in turns}


def describe_classes(class_names: Sequence[str], client: ChatClient, *, num_descriptions: int = NUM_DESCRIPTIONS,
                     cache_dir: str | os.PathLike, dataset: str = "", context: str = "", max_reasks: int = 2,
                     log: Callable[[str], None] | None = None,
                     warn: Callable[[str], None] | None = None) -> SideInformation:
    """Describe every class (resuming from ``cache_dir``); classes with malformed answers are reported
    together in a ``DescribeError`` after the others are done. HTTP failures raise ``LLMError`` at once,
    naming the class and phase.

    Args:
        class_names: the vocabulary; each class gets its own conversation, which never names the others.
        client: chat client.
        num_descriptions: N_a descriptions per class and phase.
        cache_dir: conversation cache folder.
        dataset: dataset name, stored in the result and named in the system prompt.
        context: free text about the recordings, the same for every class (system prompt).
        max_reasks: re-asks after an answer that is not a usable list.
        log: progress messages.
        warn: warnings, e.g. a corrupt cache file (default ``warnings.warn``).
    """
    names = list(class_names)
    if len(set(names)) != len(names):
        raise ValueError("duplicate class names")
    system = prompts.system_prompt(dataset, context)
    cache = ConversationCache(cache_dir, warn=warn)
    classes: dict[str, dict[str, list[str]]] = {}
    failures: list[tuple[str, str, str]] = []
    for name in names:
        try:
            classes[name] = describe_class(name, client, cache, num_descriptions=num_descriptions, system=system,
                                           max_reasks=max_reasks, log=log)
        except MalformedAnswer as e:
            failures.append((name, e.phase, str(e)))
    if failures:
        raise DescribeError(failures)
    host = re.sub(r"^https?://", "", client.config.base_url).split("/")[0]
    si = SideInformation(classes, dataset=dataset, source=f"llm:{client.config.model} via {host} "
                         f"(multi-turn, prompts v{prompts.PROMPT_VERSION})")
    return validate(si)


def dry_run_text(class_names: Sequence[str], *, num_descriptions: int = NUM_DESCRIPTIONS, dataset: str = "",
                 context: str = "") -> str:
    """The prompts a run would send, without calling anything (the system message is every class's)."""
    out = ["[system, every conversation]", prompts.system_prompt(dataset, context), ""]
    for name in class_names:
        out.append(f"=== class: {name}")
        for phase in PHASES:
            out += [f"[user: {phase}]", prompts.turn_prompt(name, phase, num_descriptions),
                    "[assistant: answer, kept in the conversation]"]
        out.append("")
    return "\n".join(out)


def read_class_list(spec: str) -> list[str]:
    """Class names from a file (JSON list, or one name per line) or a comma-separated list."""
    path = Path(spec)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, list) and all(isinstance(x, str) for x in obj):
            names = obj
        elif obj is not None:
            raise ValueError(f"{path}: a JSON class list must be a list of strings")
        else:
            names = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    else:
        names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ValueError(f"{spec}: no class names")
    return names


def run_describe(class_names: Sequence[str], out: str | os.PathLike, *, config: LLMConfig,
                 num_descriptions: int = NUM_DESCRIPTIONS, cache_dir: str | os.PathLike | None = None,
                 dataset: str = "", context: str = "", max_reasks: int = 2,
                 log: Callable[[str], None] | None = None,
                 warn: Callable[[str], None] | None = None) -> SideInformation:
    """``describe_classes`` + write the validated side-information JSON atomically to ``out``."""
    out = Path(out)
    cache_dir = Path(cache_dir) if cache_dir is not None else out.with_name(out.name + ".cache")
    si = describe_classes(class_names, ChatClient(config), num_descriptions=num_descriptions, cache_dir=cache_dir,
                          dataset=dataset, context=context, max_reasks=max_reasks, log=log, warn=warn)
    write_json_atomic(si.to_json(), out)
    return si
