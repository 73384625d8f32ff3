#!/usr/bin/env bash
# Documentation/ is one format, the kernel's: every file is reStructuredText that
# docutils parses without a warning.
set -u
. "$(dirname "$0")/../../scripts/common.sh"
need_pkgs python3-docutils
bad=0
for f in "$NPU_TOP"/Documentation/*; do
	case $f in
	*.rst) ;;
	*) echo "not reStructuredText: $f"; bad=1; continue ;;
	esac
	if ! python3 - "$f" <<'PY'
import io, sys
import docutils.core
err = io.StringIO()
docutils.core.publish_doctree(open(sys.argv[1]).read(), source_path=sys.argv[1],
                              settings_overrides={"warning_stream": err, "report_level": 2})
sys.stdout.write(err.getvalue())
sys.exit(1 if err.getvalue() else 0)
PY
	then
		bad=1
	fi
done
exit $bad
