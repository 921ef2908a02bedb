"""The command's error contract (zeroskel.cli.errors): each class of library error, fed with a real bad
file or argument, prints one line ``zeroskel: error: ...`` on stderr and exits 2, never a traceback;
``--debug`` shows it; a closed pipe is quiet; Ctrl-C during ``run`` names ``--resume``; every command's
--help has an example."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import zeroskel
from zeroskel.cli.main import EXAMPLES, build_parser, main, subcommands

SRC = str(Path(zeroskel.__file__).resolve().parents[1])
MSR_CLIP = "MSRAction3DSkeletonReal3D/a01_s01_e01_skeleton3D.txt"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}


def _one_error_line(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zeroskel: error: "), err
    return lines[0]


def test_side_info_config_protocol_data_and_run_errors(tmp_path, utd_root, capsys):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"format": "zeroskel-side-info/1", "classes": [{"name": "wave"}]}')
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("encoder: [1, 2\n")
    cases = {  # error class -> (argv, words the line must hold)
        "side info, missing file": (["text", "embed", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")],
                                    "missing.json: file not found"),
        "side info, bad field": (["text", "embed", str(bad_json), "--encoder", "hashing:8", "--out",
                                  str(tmp_path / "o")], "lacks field 'spatial_coarse'"),
        "side info, unknown dataset": (["text", "show", "kth"], "no side information shipped"),
        "config, unknown key": (["run", "--protocol", "utd-f1", "--out", str(tmp_path / "r1"), "encoder.nope=1"],
                                "unknown config key 'encoder.nope'"),
        "config, bad YAML": (["run", "--config", str(bad_yaml), "--out", str(tmp_path / "r3")],
                             "bad.yaml: not valid YAML"),
        "config, bad override": (["run", "--protocol", "utd-f1", "--out", str(tmp_path / "r4"), "head.options={a: [1,"],
                                 "the value is not valid YAML"),
        "bench, bad YAML": (["bench", "--config", str(bad_yaml), "--out", str(tmp_path / "b2"), "--dry-run"],
                            "bad.yaml"),
        "protocol": (["run", "--protocol", "utd-f9", "--data-root", str(utd_root), "--out", str(tmp_path / "r2")],
                     "utd-f9"),
        "data": (["data", "summary", "utd-mhad", "--root", str(tmp_path)], "no files matching"),
        "run directory": (["evaluate", str(tmp_path)], "not a run directory"),
        "bench": (["bench", "--methods", "nope", "--protocols", "utd-f1", "--out", str(tmp_path / "b"), "--dry-run"],
                  "unknown method(s) nope"),
        "template over a file": (["text", "template", "--classes", "a,b", "--out", str(bad_json)], "exists"),
    }
    for name, (argv, words) in cases.items():
        line = _one_error_line(capsys, argv)
        assert words in line, (name, line)
    # the typo'd protocol was refused before anything was written to --out
    assert not any((tmp_path / r).exists() for r in ("r1", "r2", "r3", "r4"))


def test_bad_input_and_checkpoint_errors(quick_run, msr_root, tmp_path, capsys):
    bad_npy = tmp_path / "clip.npy"
    bad_npy.write_bytes(b"not numpy")
    line = _one_error_line(capsys, ["predict", str(quick_run / "bundle"), str(bad_npy), "--classes", "a,b"])
    assert "clip.npy: cannot read" in line
    bundle = tmp_path / "bundle"
    shutil.copytree(quick_run / "bundle", bundle)
    enc = bundle / "encoder.safetensors"
    enc.write_bytes(enc.read_bytes()[:300])  # a truncated checkpoint
    line = _one_error_line(capsys, ["predict", str(bundle), str(msr_root / MSR_CLIP), "--classes", "a,b"])
    assert "encoder.safetensors: not a readable safetensors file" in line


def test_debug_shows_the_traceback(tmp_path, capsys):
    for argv in (["--debug", "text", "embed", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")],
                 ["text", "embed", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o"), "--debug"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" in err and "SideInfoError" in err
        assert err.strip().splitlines()[-1] == f"zeroskel: error: {tmp_path / 'missing.json'}: file not found"


def test_a_closed_pipe_is_quiet():
    # `zeroskel text show utd-mhad --texts | head -1`: the reader leaves after one line
    proc = subprocess.Popen([sys.executable, "-m", "zeroskel.cli.main", "text", "show", "utd-mhad", "--texts"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert first.startswith(b"utd-mhad: 27 classes") and err == ""


@pytest.mark.parametrize("extra", [[], ["num_threads=2", "jobs=2"]], ids=["in-turn", "workers"])
def test_ctrl_c_during_run_names_resume(utd_root, tmp_path, extra):
    from helpers import TINY

    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "zeroskel.cli.main", "run", "--protocol", "utd-f1",
                             "--data-root", str(utd_root), "--out", str(out), "--quiet", *TINY,
                             "encoder.epochs=500", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(),
                            # a shell starts background jobs with SIGINT ignored, and Python then installs no
                            # KeyboardInterrupt handler: give the child the terminal's default disposition
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 120
        while not (out / "seed0" / "encoder" / "state.pt").exists() and time.time() < deadline \
                and proc.poll() is None:
            time.sleep(0.2)  # the first epoch is done: the training loop is running
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (f"zeroskel: interrupted; finished epochs are kept: continue with "
                                            f"`zeroskel run --out {out} --resume`")


def test_every_command_help_has_an_example():
    parser = build_parser()
    paths = []
    for path, sub in subcommands(parser):
        paths.append(" ".join(path))
        text = sub.format_help()
        assert "example" in text and "\n  zeroskel " in text or "| zeroskel " in text, " ".join(path)
    assert sorted(paths) == sorted(EXAMPLES)  # no example for a command that does not exist
    assert "example" in parser.format_help()


def test_help_imports_no_torch_and_steps_agree():
    code = ("import sys, contextlib, io\nfrom zeroskel.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True)
    assert out.stdout.strip() == "False"
    from zeroskel.cli.run_cmd import STEPS
    from zeroskel.train.run import STEPS as RUN_STEPS

    assert STEPS == RUN_STEPS


@pytest.mark.parametrize("argv", [["text", "template", "--classes", "pour water,open door,wave", "--out"]])
def test_template_writes_side_information_the_schema_loads(argv, tmp_path, capsys):
    from zeroskel.text.sideinfo import PHASES, load_side_info

    path = tmp_path / "mine.json"
    assert main([*argv, str(path), "--num-descriptions", "2"]) == 0
    assert "replace every placeholder" in capsys.readouterr().out
    si = load_side_info(path, ["pour water", "open door", "wave"])
    assert si.num_descriptions == 2 and si.phases == PHASES
    assert si.texts("open door", "temporal_start")[0].startswith("open door: start of the motion")
    # usable as is: it embeds into a (6, K, N_a, D) class-text tensor
    assert main(["text", "embed", str(path), "--encoder", "hashing:16", "--out", str(tmp_path / "t.safetensors")]) == 0
    assert "(6, 3, 2, 16)" in capsys.readouterr().out
