"""The trainer's layers, as trainer/__init__.py lists them, import only the layers before them.

music -> nn -> compose -> evaluation -> commands. ``music/`` and ``compose/``
import no Keras or TensorFlow, not even lazily: a trained network reaches them
as plain arrays (``nn/loading`` reads a run's checkpoint with Keras, an
export's weights without). The modules at the top import no layer, but for
config's check of a ``--key`` or ``--meter`` name with ``music.keys`` (in the
function, as keys imports config's errors).
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAINER = ROOT / "trainer"
LAYERS = ("music", "nn", "compose", "evaluation", "commands")
COMMON = ("cli", "config", "constants", "errors")  # at the top, serving every layer
KERAS_FREE = ("music", "compose")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``, lazy ones (inside functions) included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out += [(node.lineno, node.module)]
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names
                    if node.module == "trainer"]
    return out


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "trainer" and len(parts) > 1 and parts[1] in LAYERS else None


def modules(layer: str) -> list[Path]:
    return sorted((TRAINER / layer).glob("*.py"))


def test_only_the_common_modules_sit_at_the_top():
    top = {p.stem for p in TRAINER.glob("*.py")}
    assert top == {"__init__", "__main__", *COMMON}
    assert {p.name for p in TRAINER.iterdir() if p.is_dir() and p.name != "__pycache__"} == \
        {*LAYERS, "splits"}


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_no_layer_after_it(layer):
    allowed = set(LAYERS[:LAYERS.index(layer) + 1])
    wrong = [f"{p.relative_to(ROOT)}:{line} imports {m}" for p in modules(layer)
             for line, m in imports(p) if layer_of(m) and layer_of(m) not in allowed]
    assert not wrong, "\n".join(wrong)
    assert modules(layer), f"trainer/{layer}/ is empty"


def test_the_common_modules_import_no_layer():
    found = [(name, m) for name in COMMON
             for line, m in imports(TRAINER / f"{name}.py") if layer_of(m)]
    assert set(found) <= {("config", "trainer.music"), ("config", "trainer.music.keys")}, found


@pytest.mark.parametrize("layer", KERAS_FREE)
def test_music_and_compose_never_import_keras(layer):
    wrong = [f"{p.relative_to(ROOT)}:{line} imports {m}" for p in modules(layer)
             for line, m in imports(p)
             if m.split(".")[0] in ("keras", "tensorflow", "jax")]
    assert not wrong, "\n".join(wrong)


def test_importing_music_and_compose_loads_no_backend():
    names = [f"trainer.{layer}.{p.stem}" for layer in KERAS_FREE for p in modules(layer)]
    probe = (f"import importlib, sys; [importlib.import_module(n) for n in {names!r}]; "
             "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"


def test_the_import_walk_sees_lazy_imports(tmp_path):
    """The rule test above would pass vacuously if the walk missed imports in functions."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from trainer.nn import model\n    import keras\n")
    assert sorted(imports(f)) == [(2, "trainer.nn"), (3, "keras")]
    assert layer_of("trainer.nn.model") == "nn" and layer_of("trainer.errors") is None
