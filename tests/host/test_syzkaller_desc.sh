#!/usr/bin/env bash
# tests/syzkaller/npu_mem.txt must describe the whole ABI; syzkaller itself is not here to
# compile it, so this parses the headers and checks the description (comments stripped):
#  - uapi/npu_mem.h: every ioctl NPU_MEM_IOCTL_X has ioctl$NPU_MEM_IOCTL_X(... const[X] ...);
#    every struct npu_mem_x has a definition "npu_mem_x {" that lists each of the C struct's
#    fields, in order, and no other; every other constant (flags, page kinds, limits,
#    granularities) is used, except the ABI version, the ioctl type and the _SIZE_VERn
#    sizes (no program passes them: the ioctl numbers carry the sizes);
#  - uapi/npu_mem_netlink.h: every command NPU_MEM_CMD_X (but UNSPEC and the *_MAX
#    bounds) has sendmsg$NPU_MEM_CMD_X(... msghdr_nl_npu_mem[NPU_MEM_CMD_X ...]); every
#    attribute NPU_MEM_A_* (but UNSPEC and the bounds) has an nlattr/nlnest of its own
#    name, of the type the header's comment gives (u8/u32/u64/flag/string/nest); every
#    other enum entry (event types, refusal reasons) is used;
#  - openat$npu_mem, mmap$npu_mem, the resources and syz_genetlink_get_family_id$npu_mem.
# Usage: test_syzkaller_desc.sh [DESCRIPTION]  (default tests/syzkaller/npu_mem.txt)
set -euo pipefail
. "$(dirname "$0")/../../scripts/common.sh"
need_pkgs python3
desc=${1:-$NPU_TOP/tests/syzkaller/npu_mem.txt}

/usr/bin/python3 - "$NPU_TOP/uapi/npu_mem.h" "$NPU_TOP/uapi/npu_mem_netlink.h" "$desc" <<'PY'
import re, sys

hdr, nlhdr, desc = (open(p).read() for p in sys.argv[1:4])
strip_c = lambda s: re.sub(r"/\*.*?\*/", "", s, flags=re.S)
# The description without comments (syzlang comments run from # to the end of the line).
txt = "\n".join(l.split("#", 1)[0].rstrip() for l in desc.splitlines())
errors, checked = [], 0

def need(ok, what):
    global checked
    checked += 1
    if not ok:
        errors.append(what)

def word(name):
    return re.search(r"(?<![\w$])" + re.escape(name) + r"(?!\w)", txt) is not None

# ---- uapi/npu_mem.h
h = strip_c(hdr)
ioctls = re.findall(r"#define\s+(NPU_MEM_IOCTL_\w+)\s*\\?\s*_IO", h)
need(len(ioctls) >= 9, f"found only {len(ioctls)} ioctls in uapi/npu_mem.h")
for name in ioctls:
    m = re.search(r"^ioctl\$" + name + r"\((.*)\)", txt, re.M)
    need(m is not None, f"no ioctl${name}")
    if m:
        need("fd_npu_mem" in m.group(1) and f"const[{name}]" in m.group(1),
             f"ioctl${name} lacks fd fd_npu_mem or cmd const[{name}]")

structs = re.findall(r"struct\s+(npu_mem_\w+)\s*\{(.*?)\};", h, re.S)
need(len(structs) >= 9, f"found only {len(structs)} structs in uapi/npu_mem.h")
for name, body in structs:
    # scalars, arrays ("__u8 magic[8];") and nested structs ("struct npu_mem_x f;")
    fields = re.findall(r"^\s*(?:__[su]\d+|struct\s+\w+)\s+(\w+)\s*(?:\[\w+\])?\s*;", body, re.M)
    need(fields, f"struct {name}: no fields parsed")
    m = re.search(r"^" + name + r"\s*\{\n(.*?)^\}", txt, re.M | re.S)
    need(m is not None, f"no definition of struct {name}")
    if not m:
        continue
    got = [l.split()[0] for l in m.group(1).splitlines() if l.strip()]
    for f in fields:
        need(f in got, f"struct {name}: field {f} missing")
    need(got == fields, f"struct {name}: fields {got}, the header has {fields}")
    # every struct is one an ioctl takes, or a field of one
    need(re.search(r"arg ptr\[\w+, " + name + r"\]", txt) is not None or
         re.search(r"^\t\w+\t+" + name + r"\b", txt, re.M) is not None,
         f"no ioctl takes struct {name}")

skip = re.compile(r"_SIZE_VER[0-9]+$|^NPU_MEM_ABI_|^NPU_MEM_IOCTL_|^_UAPI_|^NPU_MEM_DEVICE_NAME$")
for name, value in re.findall(r"^#define\s+(NPU_MEM_\w+)\s+(\S+)", h, re.M):
    if skip.search(name):
        continue
    if value.startswith('"'):	# a string: syzkaller spells its value
        need(value in txt, f"string constant {name} ({value}) unused")
    else:
        need(word(name), f"constant {name} unused")

# ---- uapi/npu_mem_netlink.h
n = strip_c(nlhdr)
enums = re.findall(r"enum\s*\w*\s*\{(.*?)\};", nlhdr, re.S)
entries = []   # (name, type comment)
for body in enums:
    for line in body.splitlines():
        m = re.match(r"\s*(\w+)\s*(?:=\s*[^,]+)?,?\s*(?:/\*\s*(.*?)\s*\*/)?\s*$", line)
        if m and m.group(1):
            entries.append((m.group(1), m.group(2) or ""))
bound = re.compile(r"^__|_MAX$|_UNSPEC$")
cmds = [e for e, _ in entries if e.startswith("NPU_MEM_CMD_") and not bound.search(e)]
attrs = [(e, c) for e, c in entries if e.startswith("NPU_MEM_A_") and not bound.search(e)]
others = [e for e, _ in entries if not e.startswith(("NPU_MEM_CMD_", "NPU_MEM_A_"))
          and not bound.search(e)]
need(len(cmds) >= 5 and len(attrs) >= 40, f"parsed {len(cmds)} commands, {len(attrs)} attributes")
for c in cmds:
    m = re.search(r"^sendmsg\$" + c + r"\((.*)\)", txt, re.M)
    need(m is not None and "sock_nl_generic" in m.group(1) and
         f"msghdr_nl_npu_mem[{c}," in m.group(1), f"no sendmsg${c} with its command")
types = {"u8": r"(int8|bool8)", "u32": r"(int32|pid|npu_mem_device|flags\[\w+, int32\])",
         "u64": r"(int64|npu_mem_shareable|flags\[\w+, int64\])", "flag": r"void",
         "string": r"string", "nest": None}
for a, comment in attrs:
    kind = comment.split(":")[0].split(",")[0].split()[0] if comment else ""
    m = re.search(r"\b(nlattr|nlnest)\[" + a + r",\s*(.*)\]\s*$", txt, re.M)
    need(m is not None, f"attribute {a} missing")
    if not m or kind not in types:
        continue
    if kind == "nest":
        need(m.group(1) == "nlnest", f"attribute {a} is a nest, described with {m.group(1)}")
    else:
        need(m.group(1) == "nlattr" and re.fullmatch(types[kind], m.group(2)) is not None,
             f"attribute {a} is {kind}, described as {m.group(2)}")
for e in others:
    need(word(e), f"enum entry {e} unused")

# ---- the entry points
for pat, what in [(r"^resource fd_npu_mem\[fd\]", "resource fd_npu_mem"),
                  (r"^resource npu_mem_handle\[int32\]", "resource npu_mem_handle"),
                  (r"^resource npu_mem_shareable\[int64\]", "resource npu_mem_shareable"),
                  (r"^openat\$npu_mem\(.*\"/dev/npu_mem\".*\) fd_npu_mem$", "openat$npu_mem"),
                  (r"^mmap\$npu_mem\(.*fd fd_npu_mem.*\)$", "mmap$npu_mem"),
                  (r"^syz_genetlink_get_family_id\$npu_mem\(.*\"npu_mem\".*\)", "family id")]:
    need(re.search(pat, txt, re.M) is not None, f"no {what}")

for e in errors:
    print(f"# {e}")
print(f"# {checked} checks, {len(errors)} failed: {len(ioctls)} ioctls, {len(structs)} structs, "
      f"{len(cmds)} commands, {len(attrs)} attributes")
sys.exit(1 if errors else 0)
PY
