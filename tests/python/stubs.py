"""pyruntime/_core.pyi: the native module's type stubs, generated from the installed module by pybind11-stubgen
(pinned in the test extra, as pybind11 is in the build requirements, so the text is reproducible).

    python tests/python/stubs.py --write     # regenerate after changing the bindings (csrc/python)

tests/python/test_packaging.py regenerates them and compares with the checked-in file.
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKED_IN = os.path.join(ROOT, "pyruntime", "_core.pyi")


def generate() -> str:
    with tempfile.TemporaryDirectory() as out:
        # from a folder outside the checkout: the installed module, not the source tree
        subprocess.run([sys.executable, "-m", "pybind11_stubgen", "pyruntime._core", "-o", out], cwd=out,
                       check=True, capture_output=True, text=True)
        with open(os.path.join(out, "pyruntime", "_core.pyi")) as f:
            return f.read()


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    with open(CHECKED_IN, "w") as f:
        f.write(generate())
    print(f"wrote {CHECKED_IN}")
