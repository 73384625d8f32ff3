#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write acl_codes.txt from a checkout of CANN's runtime (hicann/runtime).

    libshim/tests/acl_codes_extract.py /path/to/runtime > libshim/tests/acl_codes.txt

Every error-code name and value of include/external/acl/error_codes/rt_error_codes.h
(macros) and include/external/acl/acl_base_rt.h (static const int): names and values
only.  test_acl_codes.sh checks libshim's headers against the list; CI has no CANN tree.
"""
import re
import subprocess
import sys

root = sys.argv[1]
inc = root + "/include/external/acl/"
commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
                        text=True, check=True).stdout.strip()
rt = open(inc + "error_codes/rt_error_codes.h").read().replace("\\\n", " ")
base = open(inc + "acl_base_rt.h").read()
macros = re.findall(r"^\s*#define\s+(ACL_\w+)\s+(-?\d+)\b", rt, re.M)
consts = re.findall(r"^\s*static\s+const\s+int\s+(ACL_\w+)\s*=\s*(-?\d+)\s*;", base, re.M)
names = [n for n, _ in macros + consts]
assert len(names) == len(set(names)), "a name appears twice"

print("# CANN's ACL error codes: every name and value of")
print("#   include/external/acl/error_codes/rt_error_codes.h  (kind: macro)")
print("#   include/external/acl/acl_base_rt.h                 (kind: const, static const int)")
print("# of hicann/runtime at commit %s," % commit)
print("# written by libshim/tests/acl_codes_extract.py.  %d macros, %d constants, %d names."
      % (len(macros), len(consts), len(names)))
print("# name value kind")
for n, v in macros:
    print("%s %s macro" % (n, v))
for n, v in consts:
    print("%s %s const" % (n, v))
