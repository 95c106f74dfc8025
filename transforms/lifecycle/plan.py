"""Which close files a run issues before it loads anything new (SPEC §7: reproducible from empty).

Closes are issued in their order (issue date, month), each from exactly its own inputs. The working
database grows by loading, never by forgetting, so a close can be issued from it only while it holds
no file the close does not record. When it holds more (a pending close older than what was loaded, or
an issued close after a pending one), the working database is rebuilt from empty and every close is
issued again, in order: the documents come out byte for byte as first issued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from transforms.lifecycle.control import Close


@dataclass
class ReplayPlan:
    rebuild: bool = False  # start the working database from empty first
    closes: list[Close] = field(default_factory=list)  # to issue, in order


def replay_plan(closes: list[Close], issued: set[date], loaded: dict[str, str]) -> ReplayPlan:
    pending = [c for c in closes if c.month not in issued]
    if not pending:
        return ReplayPlan()
    first = closes.index(pending[0])
    issued_after = any(c.month in issued for c in closes[first:])
    if issued_after or not loaded.items() <= pending[0].files.items():
        return ReplayPlan(True, list(closes))
    return ReplayPlan(False, pending)
