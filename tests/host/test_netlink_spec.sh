#!/usr/bin/env bash
# uapi/npu_mem.yaml and uapi/npu_mem_netlink.h must agree: every attribute, enum entry and
# operation of the spec must have the value the YNL rules give it (first attribute 1, first
# operation 1, enums from value-start), under the C name YNL would generate.  The 6.12
# kernel's own generator (tools/net/ynl in the test kernel's source) must accept the spec
# and the header it generates must pass the same checks.
set -euo pipefail
. "$(dirname "$0")/../../scripts/common.sh"
# Debian's python3 with its packages, whatever python3 comes first on PATH.
need_pkgs python3 python3-yaml python3-jsonschema gcc
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$py" - "$NPU_TOP/uapi/npu_mem.yaml" >"$tmp/check.c" <<'PY'
import sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
fam = spec["name"].upper().replace("-", "_")
c = lambda s: s.upper().replace("-", "_")
print('#include "uapi/npu_mem_netlink.h"')
def check(name, value):
    print(f'_Static_assert({name} == {value}, "{name} != {value}");')
n = 0
for d in spec.get("definitions", []):
    if d["type"] != "enum":
        continue
    for i, e in enumerate(d["entries"]):
        e = e["name"] if isinstance(e, dict) else e
        check(f"{fam}_{c(d['name'])}_{c(e)}", d.get("value-start", 0) + i); n += 1
for s in spec["attribute-sets"]:
    for i, a in enumerate(s["attributes"]):
        check(f"{fam}_A_{c(s['name'])}_{c(a['name'])}", a.get("value", i + 1)); n += 1
    check(f"{fam}_A_{c(s['name'])}_MAX", len(s["attributes"])); n += 1
for i, o in enumerate(spec["operations"]["list"]):
    check(f"{fam}_CMD_{c(o['name'])}", o.get("value", i + 1)); n += 1
groups = [g["name"] for g in spec["mcast-groups"]["list"]]
print(f'#ifdef {fam}_GENL_NAME')
print(f'static const char grp[] = {fam}_GENL_MCGRP_EVENTS;')
print(f'static const char fam[] = {fam}_GENL_NAME;')
print('int main(void) { return __builtin_strcmp(grp, "%s") || __builtin_strcmp(fam, "%s"); }'
      % (groups[0], spec["name"]))
print('#else')
print('int main(void) { return 0; }')
print('#endif')
PY
gcc -Wall -Werror -I"$NPU_TOP" -o "$tmp/check" "$tmp/check.c"
"$tmp/check"

# The unpacked linux-source-6.12 (the test kernel's source) has YNL; no kernel build needed.
gen=$("$NPU_TOP/scripts/kernel-source.sh")/tools/net/ynl/ynl-gen-c.py
[ -f "$gen" ] || { echo "no YNL generator at $gen" >&2; exit 1; }
# ynl-gen-c wants a kernel-like tree: MAINTAINERS at the top, the schema next to specs/.
mkdir -p "$tmp/tree/specs" "$tmp/gen/uapi"
touch "$tmp/tree/MAINTAINERS"
cp "$(dirname "$gen")/../../../Documentation/netlink/genetlink.yaml" "$tmp/tree/"
cp "$NPU_TOP/uapi/npu_mem.yaml" "$tmp/tree/specs/"
(cd "$(dirname "$gen")" && timeout 60 "$py" ./ynl-gen-c.py --mode uapi --header \
	--spec "$tmp/tree/specs/npu_mem.yaml" -o "$tmp/gen/uapi/npu_mem_netlink.h" </dev/null)
gcc -Wall -Werror -I"$tmp/gen" -o "$tmp/check-gen" "$tmp/check.c"
"$tmp/check-gen"
echo "# the YNL generator accepts uapi/npu_mem.yaml and numbers it the same"
