#!/usr/bin/env bash
# The Python API on aarch64: cross-build pyruntime._core for Debian's arm64 CPython 3.11 and run a subset of the
# Python tests (numpy only: golden files, sessions, encodings, sparse, and tests/python/test_platform.py's small
# fp32 / int8-weights / int4 / static int8 / sparse models with describe() naming the NEON kernels) with that
# interpreter under qemu-user, on -cpu cortex-a72 (ARMv8.0 NEON) and -cpu max (dotprod, i8mm).
#
# Cross-built rather than built natively under qemu: the C++ build under emulation would take well over an hour on
# two cores; the cross compiler takes minutes, and what runs under qemu is the same arm64 module and interpreter a
# Raspberry Pi with Debian 12 (Raspberry Pi OS bookworm) has.
#
# Needs root on Debian/Ubuntu (dpkg --add-architecture arm64, apt-get), g++-aarch64-linux-gnu and qemu-user-static;
# the arm64 interpreter is unpacked from Debian's packages into build/aarch64-python/sysroot (nothing arm64 is
# installed into the system), numpy and pytest are pip's aarch64 wheels in build/aarch64-python/site.
#   tests/run_qemu_python.sh            # the whole subset on both CPUs
#   tests/run_qemu_python.sh --quick    # test_platform.py and test_golden.py on both CPUs (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/build/aarch64-python
sysroot=$work/sysroot
site=$work/site
quick=0
[[ ${1:-} == --quick ]] && quick=1

for tool in aarch64-linux-gnu-g++ qemu-aarch64-static apt-get dpkg; do
  command -v "$tool" > /dev/null || { echo "run_qemu_python.sh: $tool not found" >&2; exit 2; }
done

if [[ ! -x $sysroot/usr/bin/python3.11 ]]; then
  echo "== arm64 CPython 3.11 from Debian's packages into $sysroot"
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq > /dev/null
  # The interpreter, its headers and the libraries it and the module load (libstdc++ for _core), all arm64.
  want=(python3.11-minimal:arm64 libpython3.11-stdlib:arm64 libpython3.11-dev:arm64 libstdc++6:arm64)
  mapfile -t pkgs < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "${want[@]}" | grep -E '^[a-z0-9].*:arm64$' | sort -u |
    grep -vE '^(dpkg|tar|install-info|perl|libc-dev-bin|linux-libc-dev|rpcsvc-proto)[:-]|-dev:arm64$' || true)
  pkgs+=(libpython3.11-dev:arm64)
  rm -rf "$work/debs" "$sysroot" && mkdir -p "$work/debs" "$sysroot"
  (cd "$work/debs" && apt-get download "${pkgs[@]}" > /dev/null 2>&1) ||
    { echo "run_qemu_python.sh: apt-get download failed for: ${pkgs[*]}" >&2; exit 1; }
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
fi
# pyarm CPU ARGS...: the arm64 interpreter under qemu, with the package and wheels of $site, from $work (a
# folder outside the checkout: the installed-style package, not the source tree)
pyarm() {
  local cpu=$1
  shift
  (cd "$work" && PYTHONPATH="$site" qemu-aarch64-static -cpu "$cpu" -L "$sysroot" "$sysroot/usr/bin/python3.11" "$@")
}

if [[ ! -d $site/numpy ]]; then
  echo "== numpy and pytest: pip's aarch64 wheels for CPython 3.11 into $site"
  python3 -m pip install -q --target "$site" --only-binary=:all: --implementation cp --python-version 3.11 \
    --abi cp311 --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 --platform any numpy pytest
fi

echo "== cross-build pyruntime._core for aarch64 (CPython 3.11)"
python3 -c "import pybind11" 2> /dev/null || python3 -m pip install -q pybind11
gen=()
command -v ninja > /dev/null && [[ ! -f $work/build/CMakeCache.txt ]] && gen=(-G Ninja)
cmake --no-warn-unused-cli -S . -B "$work/build" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DPYRT_BUILD_PYTHON=ON -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" \
  -DPython_INCLUDE_DIR="$sysroot/usr/include/python3.11" -DPython_SOABI=cpython-311-aarch64-linux-gnu \
  -DCMAKE_CXX_FLAGS="-isystem $sysroot/usr/include" > /dev/null
cmake --build "$work/build" -j "${PYRT_JOBS:-2}" --target _core > /dev/null
rm -rf "$site/pyruntime"
cp -r pyruntime "$site/pyruntime"
cp "$work"/build/_core.cpython-311-aarch64-linux-gnu.so "$site/pyruntime/"

tests=(tests/python/test_platform.py tests/python/test_golden.py)
[[ $quick -eq 0 ]] && tests+=(tests/python/test_session.py tests/python/test_sparse.py tests/python/test_roundtrip.py
                              tests/python/test_encoding_edge_cases.py tests/python/test_api.py)
failed=0
for cpu in cortex-a72 max; do
  echo "== python3.11 -m pytest under qemu-aarch64 -cpu $cpu"
  pyarm "$cpu" -m pyruntime info | sed 's/^/   /'
  # (the one test that starts a second interpreter as a subprocess is left out: without binfmt_misc the kernel
  # cannot exec an arm64 program; the torch-side tests skip themselves)
  pyarm "$cpu" -m pytest -q -p no:cacheprovider -k "not test_f16_nan_decodes_identically_everywhere" \
    "${tests[@]/#/$root/}" || failed=1
done
if [[ $failed -ne 0 ]]; then
  echo "run_qemu_python.sh: the Python tests FAILED under qemu-aarch64"
  exit 1
fi
echo "run_qemu_python.sh: the Python tests passed under qemu-aarch64 (-cpu cortex-a72 and max)"
