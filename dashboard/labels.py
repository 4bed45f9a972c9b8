"""Every Chinese label the dashboard shows for a field or a code: the one place that defines them.

Tables keep the access layer's field names as data (tests, CSV downloads and pages select by
them); what a hall user reads comes from here through Streamlit's column configuration
(:func:`column_config`), the cell codes (statuses, severities, kinds…) through :func:`display_frame`,
charts through :func:`chart_labels`. Rule ids are shown only as a tooltip; the rule's wording
from the rulebook stands in the cell (:func:`rule_name`).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

import pandas as pd
import streamlit as st

from models.rulebook import Rulebook
from scoring.access import FLAG_KIND_LABELS, FLAG_STATUS_LABELS, FOLLOW_UP_LABELS, SEVERITY_LABELS
from scoring.accounts import ROLE_LABELS

# field -> column header (every field of the access layer's rows that a page shows)
HEADERS: dict[str, str] = {
    # people, places, groups
    "id": "编号", "key": "编号", "name": "名称", "staff_no": "工号", "staff_name": "姓名", "staff_nos": "人员",
    "window": "窗口", "window_name": "窗口名称", "department": "部门", "username": "用户名", "role": "角色",
    "actor": "操作人", "reviewer": "处理人", "ruled_by": "裁定人", "code": "编号",
    # flags, reviews, appeals
    "raised_at": "时间", "kind": "类别", "kind_label": "类型", "rule_id": "规则编号", "rule": "规则", "severity": "严重程度",
    "status": "状态", "status_label": "状态", "summary": "摘要", "appeal_pending": "申诉待裁定", "appeal": "申诉",
    "interaction_id": "接待", "spoken_at": "说话时间", "ended_at": "说完时间", "text": "原话", "instead": "应使用的规范用语", "appeal_id": "申诉编号", "flag_id": "标记",
    "flag_status": "标记状态", "reason": "理由", "filed_at": "提交时间", "decision": "结果", "ruling": "裁定理由",
    "decided_at": "裁定时间", "comment": "说明", "created_at": "创建时间", "score_adjustment": "分数调整",
    "points": "分值", "utterance_seq": "语句序号", "start_s": "开始（秒）", "end_s": "结束（秒）",
    # ratings and follow-ups
    "rated_at": "评价时间", "level": "评价", "poor": "差评", "is_poor": "差评", "matter": "事项", "serial_no": "评价编号",
    "follow_up": "回访", "opened_on": "立案日期", "due_on": "办结期限", "overdue": "逾期", "ratings": "评价数",
    "good": "好评数", "good_rate": "好评率", "poor_rate": "差评率", "rank": "排名", "month": "月份", "period": "时段",
    "courtesy": "问候/道别", "greeting": "问候", "farewell": "道别", "mean_rank": "平均评价等级（0 为最好）",
    # scores and compliance
    "interactions": "接待次数", "avg_score": "平均得分", "greeting_rate": "问候率", "farewell_rate": "道别率",
    "both_rate": "问候+道别率", "courtesy_rate": "问候+道别率", "forbidden": "服务禁语", "forbidden_per_100": "服务禁语（每百次接待）",
    "times": "次数", "wording": "规范用语",
    # attendance
    "working_days": "工作日", "late_count": "迟到次数", "late_minutes": "迟到分钟", "early_count": "早退次数",
    "early_minutes": "早退分钟", "missing_checks": "缺卡次数", "absenteeism_days": "旷工天数", "leave_days": "请假天数",
    "leave_by_type": "请假类别", "checks_due": "应打卡", "checks_on_time": "准时打卡", "presence_flags": "离岗超时",
    "punctuality_rate": "准时率", "coverage_flags": "空岗/替岗问题", "day": "日期", "half": "时段", "issue": "问题",
    "detail": "说明", "start": "开始", "end": "结束", "minutes": "分钟", "leave_type": "假别", "absenteeism": "旷工情形",
    # leave (请假), substitutes (替岗备案), attendance appeals (考勤申诉)
    "leave_id": "请假编号", "extension_id": "续假编号", "start_half": "开始时段", "end_half": "结束时段", "days": "天数",
    "awaiting": "待审批环节", "source": "来源", "substitute_no": "替岗人员", "substitute_window": "替岗窗口",
    "step": "审批环节", "decided_by": "审批人", "substitution_id": "备案编号", "substitute_name": "替岗人员姓名",
    "replaced_no": "被替岗人员", "starts_at": "替岗开始", "ends_at": "替岗结束", "filed_before": "事前备案",
    "classified_as": "原考勤结果",
    # a whole interaction and its sampled review (抽检)
    "line": "句", "family": "用语类别", "said": "是否已说", "lost": "扣分", "sampled_id": "抽检编号", "draw_id": "抽取批次",
    "stratum": "分层", "flagged": "系统已标记", "assigned_to": "复核人", "reviewed": "已复核", "started_at": "接待时间",
    "where": "位置", "note": "备注",
    # accounts and audit
    "active": "启用", "at": "时间", "action": "操作", "entity": "对象", "entity_id": "对象编号",
}
HEADERS.update({  # management figures (scoring.access.management, scoring.access.profile, scoring.access.feedback)
    "callback_rate": "回访率", "rectify_rate": "整改率", "called_back": "已回访", "rectified": "已整改", "target": "目标",
    "below_target": "未达目标", "dimension": "评价维度", "mean": "平均分", "months_running": "连续月数", "since": "起始月份",
    "through": "截至月份", "good_rate_change": "好评率环比", "both_rate_change": "问候+道别率环比", "punctuality_change": "准时率环比",
    "staff": "人数", "acked_at": "已阅时间", "acked": "已阅", "poor_called_back": "差评已回访", "poor_rectified": "差评已整改",
})
HELP: dict[str, str] = {
    "rule": "规则的规范表述（规则编号见悬停提示或命令行报告）",
    "good_rate": "好评率 = 规则手册所定好评等级（ratings.good）的评价占全部评价",
    "forbidden_per_100": "未被排除的服务禁语标记，每百次接待",
    "mean_rank": "评价等级的平均序号，0 = 非常满意",
    "callback_rate": "本期差评中已回访（已回访、已整改或已办结）的占比，目标 100%",
    "rectify_rate": "本期差评中已整改（已整改或已办结）的占比，目标 100%",
    "good_rate_change": "与上月相比的变化（百分点）",
}
# fractions 0..1 shown as percentages
PERCENT = frozenset({"good_rate", "poor_rate", "greeting_rate", "farewell_rate", "both_rate", "courtesy_rate", "punctuality_rate"})
PERCENT = PERCENT | {"callback_rate", "rectify_rate", "target", "good_rate_change", "both_rate_change", "punctuality_change"}

SEVERITY = dict(SEVERITY_LABELS)  # the access layer names the rulebook's severity levels: the same words here
# the access layer names flag kinds, flag states and follow-up states (its rows carry ``kind_label``…): the same words here
FLAG_STATUS = {status.value: label for status, label in FLAG_STATUS_LABELS.items()}
FLAG_KIND = {kind.value: label for kind, label in FLAG_KIND_LABELS.items()}
DECISION = {"confirm": "确认", "dismiss": "排除", "adjust": "调整分数", "pending": "待裁定", "change_rule": "更改规则"}
APPEAL_DECISION = {"pending": "待裁定", "confirm": "驳回（维持标记）", "dismiss": "成立（撤销标记）"}  # an appeal's outcome
REVIEW_KIND = {"inspection": "质检", "appeal": "申诉"}
ROLE = {role.value: label for role, label in ROLE_LABELS.items()}  # account roles, as the login names them
SPEAKER = {"staff": "工作人员", "citizen": "群众", "unknown": "未知"}  # who spoke a transcript line
FOLLOW_UP = {status.value: label for status, label in FOLLOW_UP_LABELS.items()}
ATTENDANCE = {
    "morning": "上午", "afternoon": "下午", "late": "迟到", "early_leave": "早退", "late_and_early": "迟到+早退",
    "missing_check": "缺卡", "absenteeism": "旷工", "leave": "请假", "on_time": "准时",
    "uncovered": "无人在岗", "leave_without_substitute": "请假未安排替岗", "substitute_not_filed": "替岗未备案",
    "away_too_long": "离岗超时", "all_staff_away": "窗口人员同时离岗",
    "no_leave_filed": "未履行请假手续", "leave_not_approved": "请假未获批准", "leave_overrun": "超假不归",
    "leave_by_deception": "以欺骗手段请假",
}
LEAVE_STATUS = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}
LEAVE_DECISION = {"approved": "批准", "rejected": "驳回"}
LEAVE_SOURCE = {"file": "请假文件（原系统已审批）", "dashboard": "网上申请"}
ATTENDANCE_APPEAL_STATUS = {"pending": "待裁定", "granted": "成立（改为准时）", "rejected": "驳回（维持原结果）"}
FAMILY = {"forbidden": "服务禁语", "courtesy": "文明用语", "phone": "电话用语"}  # a rule's family
MARK = {"correct": "正确", "wrong": "误报"}  # an inspector's mark on a hit of the system
MISS_KIND = {"said": "说了但未识别", "missing": "规范用语确实未说"}  # what a sampled review found the system missed
SAMPLE_UNIT = {"staff": "名工作人员", "window": "个窗口"}  # a sampling plan's unit: "每名工作人员每月 2 通"
MISS_WHERE = {"line": "所在句", "span": "时间段（无对应语句，如未转写出的话）"}
# a coded column's values -> Chinese (a code not listed is shown as it is)
VALUES: dict[str, Mapping[str, str]] = {
    "family": FAMILY,
    "severity": SEVERITY, "kind": {**FLAG_KIND, **REVIEW_KIND}, "decision": DECISION, "appeal": APPEAL_DECISION, "flag_status": FLAG_STATUS,
    "role": ROLE, "status": {**FLAG_STATUS, **ATTENDANCE, **LEAVE_STATUS}, "half": ATTENDANCE, "issue": ATTENDANCE,
    "absenteeism": ATTENDANCE, "start_half": ATTENDANCE, "end_half": ATTENDANCE, "classified_as": ATTENDANCE,
    "source": LEAVE_SOURCE,
}
OTHER_RULES = {"citizen.abuse": "群众辱骂", "conduct.personal_call": "二.4 服务中接打与业务无关的电话"}  # no rule of sections 七/八
PERIODS = {"day": "日", "week": "周", "month": "月"}
GROUPS = {"window": "窗口", "department": "部门", "staff": "人员", "month": "月份", "hall": "全厅"}
DATETIME_FORMAT = "YYYY-MM-DD HH:mm:ss"
PLACEHOLDER = "请选择"
SKIP_LINK = "跳到正文"  # Streamlit's own keyboard link ("Skip to main content"), shown on keyboard focus
# the live alerts (capture --publish): the badge on the inspector's pages and the list that refreshes by itself
ALERTS = {
    "title": "实时提醒",
    "badge": "实时提醒 {n} 条（近 {hours} 小时）",
    "none": "近 {hours} 小时暂无实时提醒",
    "caption": "服务禁语与群众辱骂，由实时录音自动发现；每 {seconds} 秒自动刷新。",
    "open": "打开对应标记",
}


GROUP_HEADERS = {  # the key and name of a grouped row, by grouping
    "window": {"key": "窗口", "name": "窗口名称"},
    "department": {"key": "部门编号", "name": "部门"},
    "staff": {"key": "工号", "name": "姓名"},
    "month": {"key": "月份", "name": "月份"},
    "hall": {"key": "范围", "name": "名称"},
}


def header(field: str) -> str:
    """The Chinese header of a field (the field itself only if no label is defined, which the label test catches)."""
    return HEADERS.get(field, field)


def value(field: str, code: Any, values: Mapping[str, Mapping[str, str]] | None = None) -> Any:
    """A coded cell in Chinese (``severity`` ``major`` -> 较重); ``values`` overrides a field's table."""
    table = (values or {}).get(field) or VALUES.get(field)
    return table.get(code, code) if table is not None and isinstance(code, str) else code


def rule_name(rulebook: Rulebook, rule_id: str | None) -> str:
    """The rule as a hall user knows it: its wording in the rulebook (section and wording)."""
    if not isinstance(rule_id, str) or not rule_id:
        return ""
    rule = rulebook.by_id.get(rule_id)
    if rule is None:
        return OTHER_RULES.get(rule_id, "缺少问候/道别" if rule_id.startswith("courtesy.greet") else rule_id)
    return f"{rule.section} {rule.canonical}"


_RULE = r"((?:forbidden|courtesy|phone)\.[a-z_]+)"
_DIRECTIONS = {"incoming": "接听", "outgoing": "拨打"}
# scoring.conduct's lines, both a flag's summary and a score's explanation line
_CONDUCT: list[tuple[re.Pattern, Callable[[re.Match, Rulebook | None], str]]] = [
    (re.compile(_RULE + r" \([^)]*\) said on the call \(([^)]*)\): (.*)$", re.S), lambda m, rb: f"电话中（{m[2]}）已说「{_rule(rb, m[1])}」：{m[3]}"),
    (re.compile(_RULE + r" \([^)]*\) not said on the call \(([^)]*)\): use 「(.*)」$", re.S), lambda m, rb: f"电话中（{m[2]}）未说规范用语「{m[3]}」"),
    (re.compile(r"^conduct\.personal_call \(二\.4, (\w+)\) (\w+) call while serving a citizen, not about the citizen's matter: (.*)$", re.S),
     lambda m, rb: f"为群众办理业务时{_DIRECTIONS.get(m[2], m[2])}与该业务无关的电话（{SEVERITY.get(m[1], m[1])}）：{m[3]}"),
]
# The store writes a flag's summary in English (scoring.store); a hall user reads it in Chinese.
# Each pattern is one the store writes; a summary that matches none is shown as it is.
_COURTESY_WORDS = {"greeting": "问候", "farewell": "道别"}
_SUMMARIES: list[tuple[re.Pattern, Callable[[re.Match, Rulebook | None], str]]] = [
    (re.compile(r"^((?:forbidden|courtesy|phone)\.[a-z_]+): (.*)$", re.S),
     lambda m, rb: f"{rule_name(rb, m[1]) if rb is not None else m[1]}：{m[2]}"),
    (re.compile(r"^citizen abuse \(recorded, staff not penalised\): (.*)$", re.S), lambda m, rb: f"群众辱骂（已记录，不扣工作人员分）：{m[1]}"),
    *_CONDUCT,
    (re.compile(r"^interaction without (.*)$"),
     lambda m, rb: "接待中未说" + "和".join(_COURTESY_WORDS.get(w.strip(), w.strip()) for w in m[1].split(" and "))),
    (re.compile(r"^rating (.*) \((.*)\) matches no recorded interaction$"), lambda m, rb: f"评价 {m[1]}（{m[2]}）未匹配到接待录音"),
    (re.compile(r"^follow-up of rating (.*) overdue since (\S+) \((\w+)\)$"),
     lambda m, rb: f"评价 {m[1]} 的回访自 {m[2]} 起逾期（{FOLLOW_UP.get(m[3], m[3])}）"),
    (re.compile(r"^terminal 工号 (.*) is not a known staff member, but (.*) \((.*)\) was serving$"),
     lambda m, rb: f"评价器工号 {m[1]} 不是本厅人员，当时在岗的是 {m[2]}（{m[3]}）"),
    (re.compile(r"^terminal shows 工号 (.*) \((.*)\), but (.*) \((.*)\) was serving$"),
     lambda m, rb: f"评价器显示工号 {m[1]}（{m[2]}），当时在岗的是 {m[3]}（{m[4]}）"),
    (re.compile(r"^terminal shows 工号 (.*), not the 工号 of the staff member serving \((.*)\)$"),
     lambda m, rb: f"评价器显示工号 {m[1]}，与当时在岗人员的工号（{m[2]}）不符"),
    (re.compile(r"^terminal shows name (.*) for 工号 (.*) \((.*)\), but (.*) \((.*)\) was serving$"),
     lambda m, rb: f"评价器显示姓名 {m[1]}（工号 {m[2]} 为 {m[3]}），当时在岗的是 {m[4]}（{m[5]}）"),
]


_REPEAT_VISIT = (re.compile(r"^repeat visit \(八.3/八.4\): the same citizen back for 「(.*)」 after (\d+) working day\(s\)$", re.S),
                 lambda m, rb: f"同一群众 {m[2]} 个工作日后再次办理「{m[1]}」（未一次性告知，两头跑）")
# scoring.situations.describe: the situation and what showed it
_SITUATION = re.compile(r"^(.*) \(evidence ([\d.]+): (.*)\)$", re.S)
_SITUATION_EVIDENCE = [
    (re.compile(r"staff silent (\d+) s mid-service"), r"服务中工作人员沉默 \1 秒"),
    (re.compile(r"queue ticket for 「(.*?)」, another window's matter"), r"排队号所办事项「\1」属其他窗口"),
    (re.compile(r"^the phrase itself$"), "该用语本身"),
    (re.compile(r"\[citizen\] "), "群众："),
    (re.compile(r"\[staff\] "), "工作人员："),
    (re.compile(r"; "), "；"),
]


def _situation(described: str) -> str:
    m = _SITUATION.match(described)
    if m is None:
        return described
    shown = m[3]
    for pattern, chinese in _SITUATION_EVIDENCE:
        shown = pattern.sub(chinese, shown)
    return f"{m[1]}（依据：{shown}）"


_HALVES = {"first": "前半段", "last": "后半段"}
# the lines of a score's explanation (scoring.score) as the dashboard shows them
_REASONS: list[tuple[re.Pattern, Callable[[re.Match, Rulebook | None], str]]] = [
    (re.compile(r"^base score \((.*)\)$"), lambda m, rb: f"基础分（规则手册 {m[1]}）"),
    *_CONDUCT,
    _REPEAT_VISIT,
    (re.compile(_RULE + r" \([^)]*\) said in its situation, a strength: (.*?) \[([^\[]*? \(evidence [\d.]+: .*)\]$", re.S),
     lambda m, rb: f"情形「{_situation(m[3])}」中已说「{_rule(rb, m[1])}」（加分）：{m[2]}"),
    (re.compile(_RULE + r" \([^)]*\) not said in its situation (.*); say: (.*)$", re.S),
     lambda m, rb: f"情形「{_situation(m[2])}」中未说规范用语，应说：「{m[3]}」"),
    (re.compile(_RULE + r" \([^)]*\) said: (.*)$", re.S), lambda m, rb: f"已说「{_rule(rb, m[1])}」：{m[2]}"),
    (re.compile(_RULE + r" \([^)]*\) not said by staff in the (\w+) half of the interaction$"),
     lambda m, rb: f"接待{_HALVES.get(m[2], m[2])}未说「{_rule(rb, m[1])}」"),
    (re.compile(_RULE + r" not required: nobody was served \(no citizen spoke\)$"), lambda m, rb: f"无群众办事，不要求「{_rule(rb, m[1])}」"),
    (re.compile(_RULE + r" \([^,]*, (\w+)\) forbidden phrase by staff: (.*)$", re.S),
     lambda m, rb: f"服务禁语（{SEVERITY.get(m[2], m[2])}）「{_rule(rb, m[1])}」：{m[3]}"),
    (re.compile(r"^citizen abuse recorded, not penalised \(([^)]*)\): (.*)$", re.S), lambda m, rb: f"群众辱骂（{m[1]}，已记录，不扣分）：{m[2]}"),
    (re.compile(_RULE + r" \([^)]*\) not said although the citizen waited (\d+) min \(>= (\d+)\)$"),
     lambda m, rb: f"群众等候 {m[2]} 分钟（≥ {m[3]}）未说「{_rule(rb, m[1])}」"),
    (re.compile(_RULE + r" \([^)]*\) not said before (\d+) s of silence \(>= (\d+) s\)$"),
     lambda m, rb: f"沉默 {m[2]} 秒（≥ {m[3]} 秒）前未说「{_rule(rb, m[1])}」"),
]


def _rule(rulebook: Rulebook | None, rule_id: str) -> str:
    rule = rulebook.by_id.get(rule_id) if rulebook is not None else None
    return rule.canonical if rule is not None else rule_id


# scoring.access.sampling.draw_sample's refusals, as the 抽检复核 page shows them
_DRAW_ERRORS: list[tuple[re.Pattern, Callable[[re.Match, Rulebook | None], str]]] = [
    (re.compile(r"^period '(.*)': expected YYYY-MM or YYYY-Www$"),
     lambda m, rb: f"抽检周期「{m[1]}」格式不对：应为 年-月（如 2026-03）或 年-W周（如 2026-W10）"),
    (re.compile(r"^plan (\d+) samples per (\w+); period '(.*)' is not one$"),
     lambda m, rb: f"方案 #{m[1]} 按{PERIODS.get(m[2], m[2])}抽检，「{m[3]}」不是一个{PERIODS.get(m[2], m[2])}"),
    (re.compile(r"^plan (\d+) was already drawn for (.*)$"), lambda m, rb: f"方案 #{m[1]} 已抽取过 {m[2]}"),
    (re.compile(r"^no sampling plan (\d+)$"), lambda m, rb: f"没有抽检方案 #{m[1]}（或已停用）"),
]


def draw_error(text: str) -> str:
    """Why a draw was refused, in Chinese (a reason of no known form is shown as it is)."""
    return _translate(text, None, _DRAW_ERRORS)


def reason(text: Any, rulebook: Rulebook | None = None) -> Any:
    """A line of a score's explanation in Chinese (a line matching no known form is shown as it is)."""
    return _translate(text, rulebook, _REASONS)


def _translate(text: Any, rulebook: Rulebook | None, patterns) -> Any:
    if not isinstance(text, str):
        return text
    for pattern, render in patterns:
        m = pattern.match(text)
        if m:
            return render(m, rulebook)
    return text


_LINKED = {"provoked_by": "此前群众辱骂", "first_visit": "首次办理", "return_visit": "再次办理"}


def linked_evidence(link: Any) -> str:
    """A line about what a flag is recorded together with (``scoring.access.LinkedEvidence``), in Chinese."""
    head = _LINKED.get(link.kind, link.kind)
    if link.kind == "provoked_by":
        return f"{head}（第 {link.at} 秒）：{link.text or ''}"
    parts = [f"{link.window or '-'} 窗口", f"票号 {link.ticket_no or '-'}", (link.at or "").replace("T", " "), f"事项「{link.matter or ''}」"]
    return f"{head}：" + "，".join(parts)


def summary(text: Any, rulebook: Rulebook | None = None) -> Any:
    """A flag's stored summary in Chinese (the rule's wording for its id); a deduction's flag reads as its score line."""
    shown = _translate(text, rulebook, _SUMMARIES)
    return _translate(text, rulebook, _REASONS) if shown is text else shown


def display_frame(df: pd.DataFrame, rulebook: Rulebook | None = None, values: Mapping[str, Mapping[str, str]] | None = None) -> pd.DataFrame:
    """The table as shown: coded cells in Chinese, a ``rule`` name beside ``rule_id``, no empty value shown as None.

    The field names stay (headers come from :func:`column_config`); numeric columns with gaps
    become text so that an empty cell is empty.
    """
    df = df.copy()
    for column in df.columns:
        if column in VALUES or column in (values or {}):
            df[column] = df[column].map(lambda v, c=column: value(c, v, values))
    if "summary" in df.columns:
        df["summary"] = df["summary"].map(lambda v: summary(v, rulebook))
    if rulebook is not None and "rule_id" in df.columns and "rule" not in df.columns:
        df.insert(list(df.columns).index("rule_id"), "rule", df["rule_id"].map(lambda r: rule_name(rulebook, r)))
    for column in df.columns:
        series = df[column]
        if not series.isna().any():
            continue
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            df[column] = series.map(lambda v: "" if v is None or pd.isna(v) else _text(v))
        elif pd.api.types.is_numeric_dtype(series):
            df[column] = series.map(lambda v, c=column: "" if pd.isna(v) else (f"{100 * v:.1f}%" if c in PERCENT else f"{v:g}"))
        else:
            df[column] = series.map(lambda v: "" if v is None or (not isinstance(v, (list, tuple, dict)) and pd.isna(v)) else v)
    for column in df.columns:  # lists and dicts (leave by type, audit detail) as short text
        df[column] = df[column].map(_text) if df[column].map(lambda v: isinstance(v, (list, tuple, dict))).any() else df[column]
    return df


def _text(v: Any) -> str:
    if isinstance(v, dict):
        return "，".join(f"{k} {val}" for k, val in v.items())
    if isinstance(v, (list, tuple)):
        return "、".join(str(x) for x in v)
    if hasattr(v, "strftime"):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return str(v)


def column_config(df: pd.DataFrame, *, rule_ids: bool = False, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Streamlit column configuration giving every column of ``df`` its Chinese header and format (``headers`` overrides, e.g. :data:`GROUP_HEADERS`)."""
    config: dict[str, Any] = {}
    for column in df.columns:
        label, help_text = (headers or {}).get(column) or header(column), HELP.get(column)
        series = df[column]
        if column in PERCENT and pd.api.types.is_numeric_dtype(series):
            config[column] = st.column_config.NumberColumn(label, help=help_text, format="percent")
        elif pd.api.types.is_datetime64_any_dtype(series):
            config[column] = st.column_config.DatetimeColumn(label, help=help_text, format=DATETIME_FORMAT)
        elif pd.api.types.is_bool_dtype(series):
            config[column] = st.column_config.CheckboxColumn(label, help=help_text)
        elif pd.api.types.is_numeric_dtype(series):
            config[column] = st.column_config.NumberColumn(label, help=help_text)
        else:
            config[column] = st.column_config.TextColumn(label, help=help_text)
    if "rule" in df.columns and "rule_id" in df.columns and not rule_ids:
        config["rule_id"] = None  # the id stays in the data (and the CSV download), not on screen
    return config


def chart_labels(*fields: str) -> dict[str, str]:
    """Plotly ``labels=`` for these fields, plus the wide-form ``value``/``variable`` axes."""
    return {"value": "数值", "variable": "指标", **{f: header(f) for f in fields}}


def chart_frame(df: pd.DataFrame, x: str, ys: list[str], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """A long table for a Plotly chart with Chinese names: ``x``, 指标 (the header of each y) and 数值 (percent for rates)."""
    long = df[[x, *extra, *ys]].melt(id_vars=[x, *extra], value_vars=ys, var_name="指标", value_name="数值")
    long["指标"] = long["指标"].map(header)
    return long.rename(columns={x: header(x), **{e: header(e) for e in extra}})
