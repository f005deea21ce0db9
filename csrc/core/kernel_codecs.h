// Wires the format reader to the kernel tables: CRCs and decodes of models go through kernels::active()
// (SSE4.2 / ARMv8 CRC, F16C / NEON conversion) instead of the format's scalar codecs.
#pragma once

namespace pyrt {
// Idempotent and cheap; called where models are opened (C API, Python module).
void use_kernel_codecs();
}  // namespace pyrt
