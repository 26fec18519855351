"""The dirty flag of a report's provenance: code changes count, an earlier report in results/ does not."""
from __future__ import annotations

import subprocess

from benchmark import provenance


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_dirty_means_changed_code_not_changed_results(tmp_path, monkeypatch):
    (tmp_path / "results").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "table.md").write_text("old\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "start")
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)

    def dirty():
        provenance.git_state.cache_clear()
        return provenance.git_state()["dirty"]

    assert dirty() is False
    (tmp_path / "results" / "table.md").write_text("regenerated\n")
    assert dirty() is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert dirty() is True
    provenance.git_state.cache_clear()
