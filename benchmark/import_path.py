"""Classes and functions named in a config by import path: `module.path:Attribute`.

A researcher's method (`model.family`) and folder layout (`dataset.source`) live in their own
package, not in this one. The config names them the way entry points do, e.g.
`family: mypkg.translation:MyModel`, and every process that builds the run imports that path
again: the CLI, a submitit job, a SLURM array task. A registry patched at run time would be
empty in a job's fresh interpreter; the import path travels in the job's config, so the job
finds the same class as long as the package is installed (or on PYTHONPATH) where it runs.

Why an import path in the existing `family` / `source` key rather than Hydra's `_target_`:

* the value is part of the run's identity: `family` is hashed with the rest of the model
  config (benchmark/config.py), so two methods never share a run directory, and a built-in
  family keeps its short name (`cyclegan`) and therefore every hash already in the store;
* a model is not built from constructor keyword arguments: `from_config(model_cfg,
  network_cfg, seed=...)` also receives the profile's network sizes and the run seed, and a
  dataset source is called with the dataset config and a split. `_target_` means "call this
  with the sibling keys", which is neither, and `hydra.utils.instantiate` would try to do so
  wherever a config is merely read (reports, status);
* one spelling for both (and one error): an import that fails is said in one line naming the
  key, the module and the fix, here, not as a traceback from inside a job.
"""
from __future__ import annotations

import importlib
import re
from typing import Any

#: `pkg.module:Attribute` (the attribute may be dotted: `pkg.mod:Outer.Inner`).
IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class ImportPathError(ValueError):
    """An import path that is malformed, does not import, or names the wrong kind of object.

    A ValueError, so the CLI prints it as one `error: ...` line (exit code 2)."""


def is_import_path(value: Any) -> bool:
    """True where `value` is meant as an import path (it holds a colon); well formed or not."""
    return isinstance(value, str) and ":" in value


def resolve(value: str, key: str) -> Any:
    """The object `value` ("module.path:Attribute") names, imported now; `key` names the config
    key in the error (e.g. "model.family")."""
    if not IMPORT_PATH.match(value):
        raise ImportPathError(f"{key}={value!r} is not an import path: write module.path:Attribute, "
                              "e.g. mypkg.translation:MyModel")
    module_name, _, attribute = value.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportPathError(f"{key}={value!r}: cannot import module {module_name} ({exc}): install the "
                              "package or put it on PYTHONPATH") from exc
    except Exception as exc:  # the module itself raised while importing: its own bug, named
        raise ImportPathError(f"{key}={value!r}: importing module {module_name} failed "
                              f"({type(exc).__name__}: {exc}): fix that module") from exc
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            public = sorted(n for n in vars(module) if not n.startswith("_"))[:12]
            raise ImportPathError(f"{key}={value!r}: module {module_name} has no attribute {attribute} "
                                  f"(it defines {', '.join(public) or 'nothing public'}): fix the name")
        found = getattr(found, part)
    return found
