# Cross-compile for 64-bit ARM Linux with Debian's GNU toolchain (apt-get install g++-aarch64-linux-gnu).
# Run the results with qemu-aarch64-static (see tests/native/run_qemu.sh), or on a board.
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(PYRT_CROSS_TRIPLE aarch64-linux-gnu CACHE STRING "GNU triple of the cross toolchain")
set(CMAKE_C_COMPILER ${PYRT_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${PYRT_CROSS_TRIPLE}-g++)

# Debian installs the target's headers and libraries under /usr/<triple>.
set(CMAKE_FIND_ROOT_PATH /usr/${PYRT_CROSS_TRIPLE})
# Programs (code generators, python) come from the host; headers, libraries and packages from the target.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# try_run() and ctest run target binaries through qemu when it is installed.
find_program(PYRT_QEMU_AARCH64 qemu-aarch64-static qemu-aarch64)
if(PYRT_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${PYRT_QEMU_AARCH64} -L /usr/${PYRT_CROSS_TRIPLE})
endif()
