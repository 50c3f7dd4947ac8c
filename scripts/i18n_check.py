"""The English catalogue must be complete for everything that exists.

Runs makemessages for ``en`` and fails, listing them, when a message has no translation or a fuzzy one.
The catalogue file is left as it was unless its entries changed (only the header's date differs otherwise).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"
IGNORE = [".venv", "node_modules", "e2e", "bench", "staticfiles", "var", "scripts", "conftest.py", "*/tests/*"]


def main() -> int:
    before = PO.read_text(encoding="utf-8") if PO.exists() else None
    cmd = [sys.executable, "manage.py", "makemessages", "-l", "en", "--no-location", "--no-obsolete"]
    for pattern in IGNORE:
        cmd += ["--ignore", pattern]
    env = {**os.environ, "CRM_TESTING": "1"}
    subprocess.run(cmd, cwd=ROOT, check=True, env=env, stdout=subprocess.DEVNULL)  # noqa: S603 - our own manage.py
    catalogue = polib.pofile(str(PO))
    missing = [e for e in catalogue if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]
    if before is not None:
        old = {(e.msgctxt, e.msgid, e.msgid_plural) for e in polib.pofile(before)}
        new = {(e.msgctxt, e.msgid, e.msgid_plural) for e in catalogue}
        if old == new:
            PO.write_text(before, encoding="utf-8")
    if missing:
        print(f"英文翻译缺少 {len(missing)} 条 (English catalogue incomplete): {PO.relative_to(ROOT)}")
        for e in missing[:50]:
            print(f"  - {e.msgid!r}")
        return 1
    print(f"i18n: {len(catalogue)} messages, English catalogue complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
