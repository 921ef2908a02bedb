"""``zeroskel describe`` against a real HTTP server on 127.0.0.1 (see conftest.ScriptedLLM); no mocked client."""
from __future__ import annotations

import argparse
import json

import pytest

from zeroskel.cli import text_cmd
from zeroskel.text import describe
from zeroskel.text.describe import (
    ChatClient, DescribeError, LLMConfig, LLMError, MalformedAnswer, describe_classes, parse_descriptions,
    run_describe,
)
from zeroskel.text.sideinfo import PHASES, load_side_info

CLASSES = ["sit to stand", "stand to sit"]
N = 3


def _config(srv, **kw):
    return LLMConfig(base_url=srv.base_url, model="scripted-1", api_key="sk-test", backoff=0.001,
                     backoff_max=0.01, timeout=10, **{"max_retries": 3, **kw})


def _expected(name, phase):
    return [f"{name} turn {PHASES.index(phase)} person {i}" for i in range(N)]


def test_normal_run(tmp_path, llm_server):
    with llm_server(n=N) as srv:
        si = run_describe(CLASSES, tmp_path / "si.json", config=_config(srv), num_descriptions=N, dataset="toy")
    assert len(srv.requests) == 6 * len(CLASSES)
    for name in CLASSES:
        for phase in PHASES:
            assert si.texts(name, phase) == _expected(name, phase)
    back = load_side_info(tmp_path / "si.json", CLASSES)
    assert back.classes == si.classes and back.dataset == "toy" and "scripted-1" in back.source
    # one conversation per class: turn k carries the system prompt and all k earlier exchanges
    for k, body in enumerate(srv.requests[:6]):
        msgs = body["messages"]
        assert body["model"] == "scripted-1" and len(msgs) == 2 + 2 * k
        assert msgs[0]["role"] == "system" and all(f'"{c}"' in msgs[0]["content"] for c in CLASSES)
        assert [m["role"] for m in msgs[1:]] == ["user", "assistant"] * k + ["user"]
        assert msgs[-1]["content"] == describe.prompts.turn_prompt("sit to stand", PHASES[k], N)
        for j in range(k):
            assert json.loads(msgs[2 + 2 * j]["content"]) == _expected("sit to stand", PHASES[j])
    assert "coarsest" in srv.requests[0]["messages"][-1]["content"]
    assert "end of" in srv.requests[5]["messages"][-1]["content"]
    assert srv.headers[0]["Authorization"] == "Bearer sk-test"
    assert (tmp_path / "si.json.cache").is_dir()  # default cache next to the output


def test_transient_errors_are_retried(tmp_path, llm_server):
    script = {0: ("status", 500), 1: ("status", 429), 2: ("reset",), 7: ("status", 503)}
    with llm_server(n=N, behaviour=lambda i, body: script.get(i, ("ok",))) as srv:
        si = describe_classes(CLASSES, ChatClient(_config(srv)), num_descriptions=N, cache_dir=tmp_path)
    assert len(srv.requests) == 12 + 4
    assert si.texts("stand to sit", "spatial_fine") == _expected("stand to sit", "spatial_fine")


def test_backoff_doubles_and_gives_up(llm_server):
    sleeps = []
    with llm_server(behaviour=lambda i, body: ("status", 502)) as srv:
        client = ChatClient(LLMConfig(base_url=srv.base_url, model="m", backoff=0.001, backoff_max=0.003,
                                      max_retries=3), sleep=sleeps.append)
        with pytest.raises(LLMError, match="HTTP 502, still failing after 4 tries"):
            client.complete([{"role": "user", "content": "hi"}])
    assert sleeps == [0.001, 0.002, 0.003] and len(srv.requests) == 4


def test_client_errors_are_not_retried(llm_server):
    with llm_server(behaviour=lambda i, body: ("status", 401)) as srv:
        with pytest.raises(LLMError, match="HTTP 401"):
            ChatClient(LLMConfig(base_url=srv.base_url, model="m", backoff=0.001)).complete([])
    assert len(srv.requests) == 1


def test_malformed_answer_is_reasked(tmp_path, llm_server):
    with llm_server(n=N, behaviour=lambda i, body: ("content", "Sorry, I cannot help.") if i == 1 else ("ok",)) as srv:
        si = describe_classes(CLASSES, ChatClient(_config(srv)), num_descriptions=N, cache_dir=tmp_path)
    assert len(srv.requests) == 13
    reask = srv.requests[2]["messages"]
    assert reask[-2] == {"role": "assistant", "content": "Sorry, I cannot help."}
    assert reask[-1]["content"].startswith("Your answer could not be used (no JSON list")
    nxt = srv.requests[3]["messages"]  # the next turn sees only the good answer, not the failed exchange
    assert len(nxt) == 6 and json.loads(nxt[4]["content"]) == _expected("sit to stand", "spatial_mid")
    assert si.texts("sit to stand", "spatial_mid") == _expected("sit to stand", "spatial_mid")


def test_persistent_malformed_answer_is_reported(tmp_path, llm_server):
    def behaviour(i, body):
        user = [m["content"] for m in body["messages"] if m["role"] == "user"]
        bad = '"stand to sit"' in user[0] and len([u for u in user if not u.startswith("Your answer")]) == 3
        return ("content", '["only one"]') if bad else ("ok",)

    with llm_server(n=N, behaviour=behaviour) as srv:
        with pytest.raises(DescribeError, match=r"class 'stand to sit' phase 'spatial_fine': 1 usable descr") as info:
            describe_classes(CLASSES, ChatClient(_config(srv)), num_descriptions=N, cache_dir=tmp_path,
                             max_reasks=2)
    assert info.value.failures[0][:2] == ("stand to sit", "spatial_fine")
    assert len(srv.requests) == 6 + 2 + 3  # first class complete; 2 good turns; 3 bad answers
    files = {p.name.split("-")[0]: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert len(files["sit"]["turns"]) == 6 and len(files["stand"]["turns"]) == 2


def test_crash_then_resume(tmp_path, llm_server):
    k = 4
    with llm_server(n=N, behaviour=lambda i, body: ("ok",) if i < k else ("status", 500)) as srv:
        with pytest.raises(LLMError):
            run_describe(CLASSES, tmp_path / "si.json", config=_config(srv), num_descriptions=N)
    assert not (tmp_path / "si.json").exists()
    assert not list((tmp_path / "si.json.cache").glob(".*.tmp"))
    with llm_server(n=N) as healthy:
        si = run_describe(CLASSES, tmp_path / "si.json", config=_config(healthy), num_descriptions=N)
    assert len(healthy.requests) == 6 * len(CLASSES) - k  # only the missing turns
    first = healthy.requests[0]["messages"]  # resumed mid-conversation, with the cached history
    assert len(first) == 2 + 2 * k and json.loads(first[-2]["content"]) == _expected("sit to stand", PHASES[k - 1])
    for name in CLASSES:
        for phase in PHASES:
            assert si.texts(name, phase) == _expected(name, phase)
    with llm_server(n=N) as third:  # everything cached: a rerun makes no call at all
        run_describe(CLASSES, tmp_path / "si.json", config=_config(third), num_descriptions=N)
    assert third.requests == []


def _cli(argv):
    parser = argparse.ArgumentParser(prog="zeroskel")
    text_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_describe_env_fallbacks(tmp_path, llm_server, monkeypatch, capsys):
    (tmp_path / "classes.txt").write_text("# two classes\nsit to stand\nstand to sit\n")
    with llm_server(n=N) as srv:
        monkeypatch.setenv(describe.ENV_BASE_URL, srv.base_url)
        monkeypatch.setenv(describe.ENV_MODEL, "env-model")
        monkeypatch.setenv(describe.ENV_API_KEY, "sk-env")
        rc = _cli(["describe", "--classes", str(tmp_path / "classes.txt"), "--out", str(tmp_path / "o.json"),
                   "--num-descriptions", str(N), "--cache-dir", str(tmp_path / "c"), "--quiet", "--backoff", "0.001"])
    assert rc == 0 and len(srv.requests) == 12
    assert srv.requests[0]["model"] == "env-model" and srv.headers[0]["Authorization"] == "Bearer sk-env"
    assert load_side_info(tmp_path / "o.json").class_names == CLASSES
    assert "wrote" in capsys.readouterr().out


def test_cli_describe_failure_exit_code(tmp_path, llm_server, capsys):
    with llm_server(behaviour=lambda i, body: ("status", 500)) as srv:
        rc = _cli(["describe", "--classes", "walk", "--out", str(tmp_path / "o.json"), "--base-url", srv.base_url,
                   "--model", "m", "--max-retries", "1", "--backoff", "0.001"])
    assert rc == 1 and "rerun the same command to resume" in capsys.readouterr().err


def test_dry_run_calls_nothing(tmp_path, llm_server, capsys):
    with llm_server() as srv:
        rc = _cli(["describe", "--classes", "sit to stand,stand to sit", "--out", str(tmp_path / "o.json"),
                   "--base-url", srv.base_url, "--model", "m", "--dry-run", "--num-descriptions", "4"])
    out = capsys.readouterr().out
    assert rc == 0 and srv.requests == [] and not (tmp_path / "o.json").exists()
    assert out.count("[user: ") == 12 and "=== class: stand to sit" in out
    assert describe.prompts.turn_prompt("stand to sit", "temporal_end", 4) in out


@pytest.mark.parametrize("answer", [
    '["a", "b", "c"]',
    'Sure! Here they are:\n```json\n["a", "b", "c", "d"]\n```',
    '{"descriptions": ["a", "b", "c"]}',
    "1. a\n2) b\n3. \"c\"",
    "- a\n- b\n* c\n",
    'Here: ["a", "b", "c"] hope it helps',
])
def test_parse_descriptions(answer):
    assert parse_descriptions(answer, 3) == ["a", "b", "c"]


@pytest.mark.parametrize("answer, reason", [
    ("I am not sure.", "no JSON list"),
    ('["a", "a", " "]', "1 usable"),
    ("1. a\n2. b", "2 usable"),
])
def test_parse_descriptions_malformed(answer, reason):
    with pytest.raises(MalformedAnswer, match=reason):
        parse_descriptions(answer, 3)


def test_read_class_list(tmp_path):
    (tmp_path / "c.json").write_text('["walk", "carry"]')
    assert describe.read_class_list(str(tmp_path / "c.json")) == ["walk", "carry"]
    assert describe.read_class_list("walk, carry ,") == ["walk", "carry"]
    with pytest.raises(ValueError, match="no class names"):
        describe.read_class_list(" , ")


def test_config_from_env(monkeypatch):
    monkeypatch.delenv(describe.ENV_BASE_URL, raising=False)
    with pytest.raises(ValueError, match="ZEROSKEL_LLM_BASE_URL"):
        LLMConfig.from_env(model="m")
