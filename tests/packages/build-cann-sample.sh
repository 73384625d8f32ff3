#!/usr/bin/env bash
# Build cann-sample/ the way Huawei's samples are built (their run.sh): source the CANN
# tree's set_env.sh, then cmake -DASCEND_CANN_PACKAGE_PATH=$ASCEND_HOME_PATH.  TREE is a
# CANN-shaped tree, here npu_mem's as unpacked from the .deb files.
#
#   tests/packages/build-cann-sample.sh TREE OUTDIR     (the program: OUTDIR/share_sample)
set -euo pipefail
. "$(dirname "$0")/../../scripts/common.sh"

tree=$1
out=$2
need_pkgs cmake make g++

# shellcheck source=/dev/null
. "$tree/set_env.sh"
rm -rf "$out"
# Without CMake's build-tree RPATH (this machine's path to TREE), the program finds
# libascendcl.so through set_env.sh only, as an installed CANN program does.
cmake -S "$NPU_TOP/tests/packages/cann-sample" -B "$out" -DCMAKE_SKIP_BUILD_RPATH=ON \
	-DASCEND_CANN_PACKAGE_PATH="$ASCEND_HOME_PATH" >"$out.log" 2>&1 &&
	cmake --build "$out" >>"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
