#!/usr/bin/env bash
# Cross-build the native tests for aarch64 (Release, static) into build/aarch64 and run them under
# qemu-user: with -cpu max (CRC32, dotprod, i8mm), -cpu cortex-a76 (dotprod) and -cpu cortex-a72 (ARMv8.0, no
# dotprod), where the best NEON variant for that CPU must be the one chosen and every variant it runs is tested,
# and with PYRT_KERNELS=ref, where the reference must be.
# Needs: apt-get install g++-aarch64-linux-gnu qemu-user-static. PYRT_MUTATIONS (mutations per golden
# file, default 300, under a second under qemu) and PYRT_JOBS (default 2) are honoured.
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in aarch64-linux-gnu-g++ qemu-aarch64-static; do
  if ! command -v "$tool" > /dev/null; then
    echo "run_qemu.sh: $tool not found (apt-get install g++-aarch64-linux-gnu qemu-user-static)" >&2
    exit 2
  fi
done

build=build/aarch64
gen=()
command -v ninja > /dev/null && [[ ! -f $build/CMakeCache.txt ]] && gen=(-G Ninja)
echo "== cross-build for aarch64 into $build"
cmake --no-warn-unused-cli -S . -B "$build" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
      -DCMAKE_BUILD_TYPE=Release -DPYRT_BUILD_TESTS=ON -DPYRT_STATIC_TESTS=ON > /dev/null
cmake --build "$build" -j "${PYRT_JOBS:-2}" --target pyrt_native_tests pyrt_benchmark > /dev/null

failed=0
# run WANT_ISA CPU [ENV=VALUE...]: one test run; it fails on a failed test or on another kernel table.
run() {
  local want=$1 cpu=$2
  shift 2
  echo "== qemu-aarch64 -cpu $cpu ${*:-} (expecting isa: $want)"
  local out rc=0
  out=$(env -u PYRT_KERNELS "$@" qemu-aarch64-static -cpu "$cpu" "./$build/pyrt_native_tests" formats/golden 2>&1) ||
    rc=$?
  grep -v '^PASS ' <<< "$out" || true
  local isa
  isa=$(sed -n 's/^isa: //p' <<< "$out")
  if [[ $rc -ne 0 ]]; then
    echo "run_qemu.sh: FAILED on -cpu $cpu ${*:-} (exit $rc)"
    failed=1
  elif [[ $isa != "$want" ]]; then
    echo "run_qemu.sh: FAILED on -cpu $cpu ${*:-}: kernel table '$isa' chosen, expected '$want'"
    failed=1
  fi
}

run neon-dot-crc max
run neon-dot-crc cortex-a76
run neon-crc cortex-a72
run neon cortex-a72 PYRT_KERNELS=neon
run ref cortex-a72 PYRT_KERNELS=ref

# The static aarch64 pyrt_benchmark (C API only) on a static-int8 and a pruned model, when the Python package
# is there to write them: it must run them on the NEON kernels (emulated timings mean nothing).
if python3 -c "import pyruntime, torch" 2> /dev/null; then
  models=$(mktemp -d)
  python3 tests/native/make_bench_models.py "$models"
  for m in int8 sparse; do
    echo "== qemu-aarch64 -cpu max pyrt_benchmark --graph=$m.pyrt"
    out=$(qemu-aarch64-static -cpu max "./$build/pyrt_benchmark" --graph="$models/$m.pyrt" --num_runs=2 \
          --warmup_runs=0 --enable_op_profiling=true 2>&1) || { echo "$out"; failed=1; continue; }
    grep -E '^isa|runs:|qconv|sqgemm|spmm|spmv' <<< "$out" || true
    grep -q '^isa: neon' <<< "$out" || { echo "run_qemu.sh: pyrt_benchmark did not choose the NEON path"; failed=1; }
  done
  rm -rf "$models"
fi

if [[ $failed -ne 0 ]]; then
  echo "run_qemu.sh: aarch64 native tests FAILED"
  exit 1
fi
echo "run_qemu.sh: aarch64 native tests passed (every NEON variant on -cpu max, cortex-a76 and cortex-a72; ref forced)"
