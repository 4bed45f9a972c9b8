"""Run an ingest in a child process that stops at a known point (tests/test_ingest.py kills it there).

Usage: python tests/_ingest_child.py DB_URL ARCHIVE_DIR STORED FILE...

After STORED recordings are stored, the child starts on the next file, yields half of its
utterances into the stream, writes ``stored STORED`` to stdout and waits to be killed: the
kill lands mid-analysis of that file, with its recording row already committed as pending.
"""

import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _store_support import RecordedMatcher, RecordedTranscriber  # noqa: E402
from models.db import open_database  # noqa: E402
from models.rulebook import load_rulebook  # noqa: E402
from windowqa.ingest import IngestOptions, ingest  # noqa: E402

url, archive, stored, *files = sys.argv[1:]
recorded = RecordedTranscriber()
calls = 0


def transcribe(path, *, started_at=None, channel_map=None):
    """Files one by one; file ``stored + 1`` (0-based ``stored``) stops halfway."""
    global calls
    calls += 1
    items = recorded(path, started_at=started_at, channel_map=channel_map)
    if calls <= int(stored):
        yield from items
        return
    yield from items[: len(items) // 2]
    # ingest stores each file before it opens the next: the first `stored` files are in
    print(f"stored {stored}", flush=True)
    while True:
        signal.pause()


rulebook = load_rulebook()
ingest(
    files,
    IngestOptions(window="A03", archive_dir=Path(archive), progress=False),
    session_factory=open_database(url),
    transcribe=transcribe,
    matcher=RecordedMatcher(rulebook),
    rulebook=rulebook,
)
sys.exit("the child was to be killed before it finished")
