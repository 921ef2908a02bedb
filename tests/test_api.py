"""The top-level API (``zeroskel/__init__.py``): lazy, and each name is the library's own object."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import zeroskel

SRC = str(__import__("pathlib").Path(zeroskel.__file__).resolve().parents[1])


def _fresh_python(code: str) -> str:
    env = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=True).stdout


def test_import_zeroskel_loads_no_torch_until_a_name_is_used():
    out = _fresh_python(
        "import sys, json, zeroskel\n"
        "before = 'torch' in sys.modules\n"
        "from zeroskel import ZeroShotRecognizer, load_dataset, create_model\n"
        "print(json.dumps([before, 'torch' in sys.modules, zeroskel.__version__]))")
    before, after, version = json.loads(out)
    assert before is False and after is True
    assert version == zeroskel.__version__


def test_every_name_is_the_defining_module_object():
    from zeroskel.data import load_dataset
    from zeroskel.data.protocols import get_protocol
    from zeroskel.infer.recognizer import ZeroShotRecognizer
    from zeroskel.models import create_model, list_models
    from zeroskel.text.encoders import get_text_encoder
    from zeroskel.text.sideinfo import load_side_info

    assert zeroskel.ZeroShotRecognizer is ZeroShotRecognizer
    assert zeroskel.load_dataset is load_dataset and zeroskel.create_model is create_model
    assert zeroskel.list_models is list_models and zeroskel.get_protocol is get_protocol
    assert zeroskel.load_side_info is load_side_info and zeroskel.get_text_encoder is get_text_encoder
    for name in zeroskel.__all__:
        assert getattr(zeroskel, name) is not None and name in dir(zeroskel)
    with pytest.raises(AttributeError, match="no attribute 'predict'"):
        zeroskel.predict  # noqa: B018


def test_readme_api_lines_on_real_data(utd_root):
    ds = zeroskel.load_dataset("utd-mhad", utd_root)
    proto = zeroskel.get_protocol("utd-f1")
    assert "utd-f1" in zeroskel.list_protocols("utd-mhad") and len(ds.class_names) == 27
    assert {"neuron", "shiftgcn"} <= set(zeroskel.list_models())
    enc = zeroskel.create_model("shiftgcn", num_classes=len(proto.seen), num_joints=20, num_person=1,
                                base_channels=4)
    assert enc.num_classes == len(proto.seen)
    side = zeroskel.load_side_info(zeroskel.__file__.replace("__init__.py", "text/side_info/utd-mhad.json"),
                                   ds.class_names)
    assert len(side.classes) == 27
    text = zeroskel.get_text_encoder("hashing:32").encode(["a person waves", "a person sits down"])
    assert tuple(text.shape) == (2, 32)
