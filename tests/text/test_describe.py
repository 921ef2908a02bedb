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
        # the system message holds the dataset context, never the other classes of the vocabulary
        assert msgs[0]["role"] == "system" and "toy dataset" in msgs[0]["content"]
        assert not any(c in msgs[0]["content"] for c in CLASSES)
        assert "stand to sit" not in json.dumps(msgs)
        assert [m["role"] for m in msgs[1:]] == ["user", "assistant"] * k + ["user"]
        assert msgs[-1]["content"] == describe.prompts.turn_prompt("sit to stand", PHASES[k], N)
        for j in range(k):
            assert json.loads(msgs[2 + 2 * j]["content"]) == _expected("sit to stand", PHASES[j])
    assert "whole body" in srv.requests[0]["messages"][-1]["content"]
    assert "at its end" in srv.requests[5]["messages"][-1]["content"]
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
                   "--num-descriptions", str(N), "--cache-dir", str(tmp_path / "c"), "--quiet", "--backoff", "0.001",
                   "--no-check"])
    assert rc == 0 and len(srv.requests) == 12
    assert srv.requests[0]["model"] == "env-model" and srv.headers[0]["Authorization"] == "Bearer sk-env"
    assert load_side_info(tmp_path / "o.json").class_names == CLASSES
    out = capsys.readouterr().out
    assert "wrote" in out and "LOO top-1" not in out


def test_cli_describe_failure_exit_code(tmp_path, llm_server, capsys):
    with llm_server(behaviour=lambda i, body: ("status", 500)) as srv:
        rc = _cli(["describe", "--classes", "walk", "--out", str(tmp_path / "o.json"), "--base-url", srv.base_url,
                   "--model", "m", "--max-retries", "1", "--backoff", "0.001"])
    assert rc == 2 and "rerun the same command to resume" in capsys.readouterr().err


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


# --- what the describe fixes of issue #12 guarantee ---------------------------------------------------------

def test_prompts_ask_for_short_discriminative_movement_descriptions():
    """N_a = 10 by default; short descriptions of what moves; no sentence that fits most classes; the phases."""
    assert describe.NUM_DESCRIPTIONS == 10
    text = describe.dry_run_text(["sit to stand"], dataset="toy")
    assert text.count("Write 10 different descriptions, each at most about 25 words") == 6
    system = describe.prompts.system_prompt("toy")
    for words in ("which body part", "direction", "path shape", "how far", "how fast", "touches",
                  "rest of the body", "would fit most actions", "every phase"):
        assert words in system, words
    turn = {p: describe.prompts.turn_prompt("sit to stand", p, 10) for p in PHASES}
    assert "whole body" in turn["spatial_coarse"] and "trunk and the legs" in turn["spatial_coarse"]
    assert all(w in turn["spatial_mid"] for w in ("upper arms", "forearms", "thighs", "shanks", "angles"))
    assert all(w in turn["spatial_fine"] for w in ("hands", "wrists", "feet", "head", "path"))
    assert "at its start" in turn["temporal_start"] and "in its middle" in turn["temporal_middle"]
    assert "at its end" in turn["temporal_end"] and "not a rest posture" in turn["temporal_end"]


def test_adding_a_class_asks_only_about_it(tmp_path, llm_server):
    with llm_server(n=N) as srv:
        describe_classes(CLASSES, ChatClient(_config(srv)), num_descriptions=N, cache_dir=tmp_path, dataset="toy")
    assert len(srv.requests) == 12
    with llm_server(n=N) as srv2:
        si = describe_classes([*CLASSES, "jump"], ChatClient(_config(srv2)), num_descriptions=N, cache_dir=tmp_path,
                              dataset="toy")
    assert len(srv2.requests) == 6  # the two cached conversations stay valid
    assert all('"jump"' in body["messages"][1]["content"] for body in srv2.requests)
    assert si.class_names == [*CLASSES, "jump"]
    assert si.texts("jump", "temporal_end") == _expected("jump", "temporal_end")
    with llm_server(n=N) as srv3:  # another dataset context is another conversation
        describe_classes(["jump"], ChatClient(_config(srv3)), num_descriptions=N, cache_dir=tmp_path, dataset="other")
    assert len(srv3.requests) == 6


def test_http_200_that_is_not_a_chat_completion_is_retried(tmp_path, llm_server):
    script = {1: ("raw", "<html>upstream hiccup</html>"), 4: ("raw", '{"choices": []}')}
    with llm_server(n=N, behaviour=lambda i, body: script.get(i, ("ok",))) as srv:
        si = describe_classes(CLASSES, ChatClient(_config(srv)), num_descriptions=N, cache_dir=tmp_path)
    assert len(srv.requests) == 12 + 2
    assert srv.requests[1] == srv.requests[2]  # the same turn sent again, not a re-ask
    assert si.texts("sit to stand", "spatial_mid") == _expected("sit to stand", "spatial_mid")


def test_persistent_non_json_200_names_class_and_phase(tmp_path, llm_server):
    behaviour = lambda i, body: ("raw", "not json at all") if i >= 8 else ("ok",)  # noqa: E731
    with llm_server(n=N, behaviour=behaviour) as srv:
        with pytest.raises(LLMError, match=r"class 'stand to sit' phase 'spatial_fine': .*not a chat completion.*"
                                           r"'not json at all'.*still failing after 4 tries"):
            describe_classes(CLASSES, ChatClient(_config(srv, max_retries=3)), num_descriptions=N, cache_dir=tmp_path)
    assert len(srv.requests) == 8 + 4


def test_cli_timeout_is_applied_and_retried(tmp_path, llm_server, capsys):
    behaviour = lambda i, body: ("sleep", 2.0) if i == 0 else ("ok",)  # noqa: E731
    with llm_server(n=N, behaviour=behaviour) as srv:
        rc = _cli(["describe", "--classes", "sit to stand", "--out", str(tmp_path / "o.json"), "--base-url",
                   srv.base_url, "--model", "m", "--num-descriptions", str(N), "--timeout", "0.3",
                   "--backoff", "0.001", "--no-check"])
    assert rc == 0 and len(srv.requests) == 7  # the slow first request timed out and was sent again
    assert load_side_info(tmp_path / "o.json").texts("sit to stand", "spatial_coarse") == _expected(
        "sit to stand", "spatial_coarse")


def test_timeout_reaches_the_request(llm_server):
    with llm_server(behaviour=lambda i, body: ("sleep", 2.0)) as srv:
        client = ChatClient(LLMConfig(base_url=srv.base_url, model="m", timeout=0.2, max_retries=0))
        with pytest.raises(LLMError, match="(?i)timed out.*after 1 tries"):
            client.complete([{"role": "user", "content": 'The action is "x".'}])


@pytest.mark.parametrize("garbage", ['{"class": "sit to sta', "[1, 2]", "\xff\xfe binary", '{"turns": 3}'])
def test_corrupt_cache_file_is_reported_and_reasked(tmp_path, llm_server, garbage):
    with llm_server(n=N) as srv:
        describe_classes(CLASSES, ChatClient(_config(srv)), num_descriptions=N, cache_dir=tmp_path)
    [bad] = list(tmp_path.glob("sit-to-stand-*.json"))
    obj = json.loads(bad.read_text())
    if garbage == '{"turns": 3}':
        obj["turns"] = 3  # right key and class, unusable turns
        bad.write_text(json.dumps(obj))
    else:
        bad.write_bytes(garbage.encode("latin-1"))
    warned = []
    with llm_server(n=N) as srv2:
        si = describe_classes(CLASSES, ChatClient(_config(srv2)), num_descriptions=N, cache_dir=tmp_path,
                              warn=warned.append)
    assert len(srv2.requests) == 6 and all('"sit to stand"' in b["messages"][1]["content"] for b in srv2.requests)
    assert len(warned) == 1 and str(bad) in warned[0] and "corrupt" in warned[0]
    assert si.texts("sit to stand", "temporal_end") == _expected("sit to stand", "temporal_end")
    assert len(json.loads(bad.read_text())["turns"]) == 6  # rewritten


def test_corrupt_cache_default_warning(tmp_path, llm_server):
    with llm_server(n=N) as srv:
        describe_classes(CLASSES[:1], ChatClient(_config(srv)), num_descriptions=N, cache_dir=tmp_path)
    [bad] = list(tmp_path.glob("*.json"))
    bad.write_text("{")
    with llm_server(n=N) as srv2:
        with pytest.warns(RuntimeWarning, match="corrupt conversation cache"):
            describe_classes(CLASSES[:1], ChatClient(_config(srv2)), num_descriptions=N, cache_dir=tmp_path)


def test_cli_describe_dataset_prints_the_check(tmp_path, llm_server, capsys):
    """--classes utkinect: the dataset context in the prompt, then the text check with the UTKinect folds."""
    with llm_server(n=N) as srv:
        rc = _cli(["describe", "--classes", "utkinect", "--out", str(tmp_path / "o.json"), "--base-url",
                   srv.base_url, "--model", "m", "--num-descriptions", str(N), "--quiet",
                   "--check-encoder", "hashing:256"])
    captured = capsys.readouterr()
    assert rc == 0 and len(srv.requests) == 60 and "utkinect dataset" in srv.requests[0]["messages"][0]["content"]
    out = captured.out
    assert "wrote" in out and "LOO top-1" in out and "closest pairs:" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith("  utk-f")] == ["utk-f1", "utk-f2"]


def test_corrupt_cache_then_malformed_first_turn_warns_once(tmp_path, llm_server):
    with llm_server(n=N) as srv:
        describe_classes(CLASSES[:1], ChatClient(_config(srv)), num_descriptions=N, cache_dir=tmp_path)
    [bad] = list(tmp_path.glob("*.json"))
    bad.write_text("[")
    warned = []
    with llm_server(n=N, behaviour=lambda i, body: ("content", "no idea")) as srv2:
        with pytest.raises(DescribeError, match=r"class 'sit to stand' phase 'spatial_coarse'"):
            describe_classes(CLASSES[:1], ChatClient(_config(srv2)), num_descriptions=N, cache_dir=tmp_path,
                             max_reasks=1, warn=warned.append)
    assert len(srv2.requests) == 2 and len(warned) == 1
