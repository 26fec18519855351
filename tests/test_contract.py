"""`benchmark check`: a model from outside the packages, named by import path, against the
contract (benchmark/contract.py); each broken toy model is caught by one line naming the check."""
from __future__ import annotations

import sys
import textwrap

import pytest

import models.base
from benchmark.cli import main
from benchmark.config import ConfigError, compose_config
from benchmark.contract import CHECKS


@pytest.fixture(autouse=True)
def no_user_config_dirs(monkeypatch):
    """No BENCHMARK_CONFIG_DIR from the caller's shell; one a test sets is undone after it."""
    monkeypatch.setenv("BENCHMARK_CONFIG_DIR", "")


def check(capsys, *words: str) -> tuple[int, list[str]]:
    code = main(["check", *words])
    return code, capsys.readouterr().out.strip().splitlines()


def documented_example(tmp_path, monkeypatch):
    """models/base.py's example, saved as a user's package and config folder would hold it."""
    doc = models.base.__doc__
    code = textwrap.dedent(doc[doc.index("::\n") + 3:doc.index("\nIts whole state")])
    yaml = next(line for line in code.splitlines() if line.startswith("#   {name: mymethod"))
    src, conf = tmp_path / "src", tmp_path / "conf"
    (src / "mypkg").mkdir(parents=True)
    (src / "mypkg" / "__init__.py").write_text("")
    (src / "mypkg" / "translation.py").write_text(code)
    (conf / "model").mkdir(parents=True)
    (conf / "model" / "mymethod.yaml").write_text(yaml.removeprefix("#").strip() + "\n")
    monkeypatch.syspath_prepend(str(src))
    for name in ("mypkg", "mypkg.translation"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return conf


def test_the_documented_external_model_passes_every_check(tmp_path, monkeypatch, capsys):
    conf = documented_example(tmp_path, monkeypatch)
    code, lines = check(capsys, "model=mymethod", "--config-dir", str(conf))
    assert code == 0, lines
    assert [line.split(":")[0] for line in lines] == [f"PASS {name}" for name in CHECKS]
    assert "mypkg.translation.MyMethod" in lines[0] and "directions X2Y" in lines[0]
    assert "bit-identical" in lines[-1]


@pytest.mark.parametrize("toy,failed,says", [
    ("AttachedLosses", "losses", "loss_L1 is attached to the autograd graph (requires_grad=True): return "
                                 "loss.detach()"),
    ("ZeroOneRange", "translate", "none below 0; Y2X returns values in"),
    ("ByteRange", "translate", "the contract is [-1, 1] (end the generator in tanh)"),
    ("UnsavedGenerator", "resume", "4 of 4 weight tensors differ from an uninterrupted run"),
])
def test_a_broken_model_fails_one_check_in_one_line(toy, failed, says, capsys):
    code, lines = check(capsys, f"model.family=toy_models:{toy}")
    assert code == 1
    failures = [line for line in lines if line.startswith("FAIL")]
    assert len(failures) == 1 and failures[0].startswith(f"FAIL {failed}: "), lines
    assert says in failures[0]
    assert sum(line.startswith("PASS") for line in lines) == len(CHECKS) - 1


def test_state_saved_in_extra_training_state_resumes_exactly(capsys):
    """UnsavedGenerator's fix: the generator's state in the checkpoint (it loads weights-only)."""
    code, lines = check(capsys, "model.family=toy_models:SavedGenerator")
    assert code == 0, lines


@pytest.mark.parametrize("family,says", [
    ("nosuch_pkg.translation:MyModel", "FAIL build: model.family='nosuch_pkg.translation:MyModel': cannot import "
     "module nosuch_pkg.translation (No module named 'nosuch_pkg'): install the package or put it on PYTHONPATH"),
    ("toy_models:Missing", "FAIL build: model.family='toy_models:Missing': module toy_models has no attribute "
     "Missing"),
    ("toy_models:NotAModel", "FAIL build: model.family='toy_models:NotAModel' is the class toy_models.NotAModel, "
     "not a subclass of models.base.TranslationModel"),
    ("toy_models:WithoutFromConfig", "FAIL build: NotImplementedError: toy_models.WithoutFromConfig does not define "
     "the classmethod from_config(model_cfg, network_cfg, *, seed)"),
])
def test_a_model_that_cannot_be_built_is_named_in_one_line(family, says, capsys):
    code, lines = check(capsys, f"model.family={family}")
    assert code == 1 and lines[0].startswith(says), lines
    assert lines[1:] == [f"FAIL {name}: not run: the model did not build" for name in CHECKS[1:]]


def test_other_commands_say_an_import_failure_in_one_line(capsys):
    assert main(["describe", "model.family=nosuch_pkg.translation:MyModel"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: model.family='nosuch_pkg.translation:MyModel': cannot import module nosuch_pkg.translation "
                   "(No module named 'nosuch_pkg'): install the package or put it on PYTHONPATH"]


def test_validation_accepts_an_import_path_and_refuses_a_malformed_one():
    cfg = compose_config(["model.family=mypkg.translation:MyModel"])  # nothing is imported to compose
    assert cfg.model.family == "mypkg.translation:MyModel"
    with pytest.raises(ConfigError, match=r"model.family='mypkg.translation:' is not an import path; valid: "
                                          r"module.path:Attribute"):
        compose_config(["model.family=mypkg.translation:"])
    with pytest.raises(ConfigError, match=r"dataset.source='my layout' is not allowed"):
        compose_config(["dataset.source=my layout"])
