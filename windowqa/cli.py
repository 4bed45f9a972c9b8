"""Composition root: the only module tree that imports every stage.

Each ``windowqa.commands`` module registers its subcommands on the shared typer apps.
"""

import logging

from windowqa.app import app
from windowqa.commands import nlp_cmds  # noqa: F401  (registers match, rules show, eval phrases)
from windowqa.commands import asr_cmds  # noqa: F401  (registers models install, transcribe, capture, eval asr)
from windowqa.commands import attendance_cmds  # noqa: F401  (registers attendance enroll/checkin/eval/report, eval faces)
from windowqa.commands import substitute_cmds  # noqa: F401  (registers attendance substitute-add)
from windowqa.commands import leave_cmds  # noqa: F401  (registers attendance approver-set)
from windowqa.commands import dashboard_cmds  # noqa: F401  (registers dashboard, accounts add/list/passwd/disable/enable)
from windowqa.commands import store_cmds  # noqa: F401  (registers ingest, ratings/queue import, report, flags, followups, site load, explain)
from windowqa.commands import demo_cmds  # noqa: F401  (registers demo, eval demo)
from windowqa.commands import voice_cmds  # noqa: F401  (registers voice enroll/unenroll, eval roles)
from windowqa.commands import jobs_cmds  # noqa: F401  (registers jobs run/list, worker, beat)
from windowqa.commands import sample_cmds  # noqa: F401  (registers sample plan-add/draw/list/show/review, eval field)
from windowqa.commands import search_cmds  # noqa: F401  (registers search, search reindex)

logging.getLogger("jieba").setLevel(logging.WARNING)

__all__ = ["app"]
