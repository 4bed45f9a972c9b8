"""The fixed cast of the simulated hall: windows and departments, staff names, the floater, photos.

Also :class:`Person`, one voice of a simulation (staff member, substitute or citizen), and the
sample rate every simulated recording has.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from windowqa.demo import BANK_SAMPLE_RATE_HZ

SAMPLE_RATE_HZ = BANK_SAMPLE_RATE_HZ
PHOTOS_DIR = Path(__file__).parents[1] / "photos"

# (code, name, department code, department name)
WINDOWS = [
    ("A01", "企业开办", "SCJG", "市场监管局"),
    ("A02", "不动产登记", "ZRZY", "自然资源局"),
    ("B01", "社保", "RSJ", "人社局"),
    ("B02", "医保", "YBJ", "医保局"),
    ("C01", "公积金", "GJJ", "住房公积金中心"),
    ("C02", "户籍", "GAJ", "公安局"),
    ("D01", "税务", "SWJ", "税务局"),
    ("D02", "综合受理", "ZWFW", "政务服务中心"),
]
DEPARTMENT_NAMES = {dept: dept_name for _code, _name, dept, dept_name in WINDOWS}
STAFF_NAMES = ["张敏", "李强", "王芳", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周涛"]
SUBSTITUTE = ("9001", "孙悦", "ZWFW")  # the hall's floater who covers windows (替岗)

# Public-domain / CC0 photos shipped in windowqa/demo/photos (see SOURCES.md there).
ENROLLED_PHOTOS = ["staff_a.jpg", "staff_b.jpg"]
UNKNOWN_PHOTO = "visitor.jpg"

POOR_COMMENTS = ["态度不好", "说话太冲", "等了太久也没人解释", "让我自己去查", "推来推去"]
GOOD_COMMENTS = ["", "", "服务很好", "办得很快", "很耐心", ""]


@dataclass
class Person:
    """One voice of the simulation: a staff member, the substitute or a citizen.

    Attributes:
        staff_no: 工号 (citizens get a made-up ``C…``/``J…`` number, never stored).
        name: empty for citizens.
        department: department code (empty for citizens).
        window: the rostered window (None: the substitute, citizens).
        voice_rate: resampling rate of the bank clips (pitch and tempo together).
        gain_db: level of this person relative to the bank's -20 dBFS.
        photo: enrolled face photo (None: checks in by card).
        card_no: staff card number of a card check-in.
        pitch_st: the voice moved this many semitones from the bank's (0: the bank's voice).
        formant_ratio: the voice's spectral envelope stretched by this (1: the bank's vocal tract).
    """

    staff_no: str
    name: str
    department: str
    window: str | None
    voice_rate: float
    gain_db: float
    photo: str | None = None
    card_no: str | None = None
    pitch_st: float = 0.0
    formant_ratio: float = 1.0
