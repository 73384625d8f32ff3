#!/usr/bin/env bash
# What tools/vm-run boots, for one test kernel (make vm runs this after make userspace):
# the kernel, built or found in the cache; npu_mem.ko and the KUnit modules built against
# it.  Records the kernel's build directory in build/vm/SERIES-VARIANT.kernel, which is
# where vm-run finds it.
#
#   scripts/prepare-vm.sh [debug|perf|coverage] [6.12|6.1]
#
# For the coverage kernel npu_mem.ko is built with gcov counters (NPU_MEM_GCOV=y, see
# driver/Kbuild); every other variant builds it as make module does.
set -euo pipefail
. "$(dirname "$0")/common.sh"

variant=${1:-debug}
series=${2:-6.12}
kbuild=$("$NPU_TOP/scripts/build-test-kernel.sh" "$variant" "$series")
kbuild_args=()
[ "$variant" != coverage ] || kbuild_args=(NPU_MEM_GCOV=y)
"$NPU_TOP/scripts/build-module.sh" "$kbuild" "$(vm_module_dir "$kbuild")" "${kbuild_args[@]}"
mkdir -p "$NPU_BUILD/vm"
echo "$kbuild" >"$NPU_BUILD/vm/$series-$variant.kernel"
