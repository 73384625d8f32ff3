#!/usr/bin/env bash
# Print the directory of Debian's linux-source-6.12, unpacked in the cache (installing
# and unpacking it first if need be).  The Makefile takes the kselftest harness
# (tools/testing/selftests/kselftest_harness.h) from it; build-test-kernel.sh builds
# the test kernel from the same directory.
#
#   scripts/kernel-source.sh
set -euo pipefail
. "$(dirname "$0")/common.sh"
kernel_source 6.12
