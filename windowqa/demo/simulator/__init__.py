"""The simulated service hall: a scenario library and a generator of whole hall days.

:func:`generate_hall` writes, into one folder, everything a real site would hand windowqa:

* ``site.toml``: departments, windows, staff with 工号, the duty roster and one filed substitute;
* ``audio/<window>_<YYYYmmddTHHMMSS>.flac``: STEREO window recordings (channel 0 the staff lapel
  microphone, channel 1 the citizen side), assembled from the committed utterance bank with a
  voice per person, crosstalk of the other side at a reduced level, hall noise (babble of distant
  voices plus broadband hiss) at a stated SNR, and pauses;
* ``queue.csv`` (叫号 call events), ``ratings.csv`` (the evaluation terminal's export),
  ``leave.csv`` (one leave record), ``checkins.csv`` plus ``checkins/*.jpg`` (terminal photos for
  face check-ins, card numbers for staff who chose the non-biometric check-in);
* ``truth.json``: the ground truth: who said what when, which rules each staff line must (or
  may) produce, which interaction every line, call and rating belongs to, who served, and the
  expected attendance class of every staff half-day (:class:`HallTruth`, read back with
  :func:`load_truth`).

Where things are: ``options`` (size, levels, shares), ``hall`` (the fixed cast of windows and
people), ``scenarios`` (scripts from the utterance bank), ``recordings`` (scripts placed in
time), ``mixing`` (voices, microphones, hall noise), ``attendance`` (simulated check-ins),
``site_files`` (site.toml and the CSV exports), ``truth`` (the typed ground truth) and
``generate`` (the whole day, in one seeded order). Nothing here loads a model.
"""

from windowqa.demo.simulator.generate import GeneratedHall, generate_hall, working_days
from windowqa.demo.simulator.hall import PHOTOS_DIR, SAMPLE_RATE_HZ
from windowqa.demo.simulator.options import SIZE_PRESETS, HallSize, SimOptions, SimulationError
from windowqa.demo.simulator.scenarios import PHONE_SCENARIOS, SCENARIO_WEIGHTS
from windowqa.demo.simulator.truth import (
    TRUTH_FILE,
    TRUTH_VERSION,
    HallTruth,
    TruthAttendance,
    TruthCheckin,
    TruthFiles,
    TruthHalfDay,
    TruthInteraction,
    TruthLeave,
    TruthLevels,
    TruthQueueCall,
    TruthRating,
    TruthRecording,
    TruthStaff,
    TruthSubstitute,
    TruthUtterance,
    TruthWindow,
    load_truth,
)

__all__ = [
    "GeneratedHall",
    "HallSize",
    "HallTruth",
    "PHONE_SCENARIOS",
    "PHOTOS_DIR",
    "SAMPLE_RATE_HZ",
    "SCENARIO_WEIGHTS",
    "SIZE_PRESETS",
    "SimOptions",
    "SimulationError",
    "TRUTH_FILE",
    "TRUTH_VERSION",
    "TruthAttendance",
    "TruthCheckin",
    "TruthFiles",
    "TruthHalfDay",
    "TruthInteraction",
    "TruthLeave",
    "TruthLevels",
    "TruthQueueCall",
    "TruthRating",
    "TruthRecording",
    "TruthStaff",
    "TruthSubstitute",
    "TruthUtterance",
    "TruthWindow",
    "generate_hall",
    "load_truth",
    "working_days",
]
