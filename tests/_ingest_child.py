"""Run an ingest in a child process (tests/test_store_ingest.py kills it mid-batch).

Usage: python tests/_ingest_child.py DB_URL ARCHIVE_DIR DELAY_S FILE...
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _store_support import RecordedMatcher, RecordedTranscriber  # noqa: E402
from models.db import open_database  # noqa: E402
from models.rulebook import load_rulebook  # noqa: E402
from windowqa.ingest import IngestOptions, ingest  # noqa: E402

url, archive, delay, *files = sys.argv[1:]
rulebook = load_rulebook()
ingest(
    files,
    IngestOptions(window="A03", archive_dir=Path(archive), progress=False),
    session_factory=open_database(url),
    transcribe=RecordedTranscriber(float(delay)),
    matcher=RecordedMatcher(rulebook),
    rulebook=rulebook,
)
