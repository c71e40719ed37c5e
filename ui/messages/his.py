"""UI texts of the HIS message log pages (/admin/his); Chinese first, then English. Keys start with ``his.``
(and the hub tile's ``logs.hub.his``)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "logs.hub.his": {"zh": "HIS 消息日志", "en": "HIS message log"},
    "logs.hub.his_desc": {
        "zh": "HIS 推送的入出院消息与处理结果",
        "en": "Admission and discharge messages from the HIS and what became of them",
    },
    "people.right.his": {"zh": "HIS 接口", "en": "HIS interface"},  # the right to send HIS messages (roles page)
    "his.title": {"zh": "HIS 消息日志", "en": "HIS message log"},
    "his.intro": {
        "zh": "HIS 通过 MLLP 或 HTTP 推送的 HL7 与 FHIR 消息，每条都记录处理结果；原始报文含患者信息，仅管理员可见。",
        "en": "Every HL7 and FHIR message the HIS sent over MLLP or HTTP, with its outcome; raw messages hold"
        " patient data and are shown to administrators only.",
    },
    "his.filter.outcome": {"zh": "处理结果", "en": "Outcome"},
    "his.filter.type": {"zh": "消息类型", "en": "Message type"},
    "his.filter.patient": {"zh": "HIS 患者号", "en": "HIS patient id"},
    "his.outcome.applied": {"zh": "已应用", "en": "Applied"},
    "his.outcome.duplicate": {"zh": "重复（未改动）", "en": "Duplicate (nothing changed)"},
    "his.outcome.stale": {"zh": "过期（未覆盖）", "en": "Stale (not overwritten)"},
    "his.outcome.rejected": {"zh": "已拒绝", "en": "Rejected"},
    "his.outcome.error": {"zh": "处理出错", "en": "Error"},
    "his.col.control_id": {"zh": "消息控制号", "en": "Control id"},
    "his.col.channel": {"zh": "通道", "en": "Channel"},
    "his.col.event_time": {"zh": "事件时间", "en": "Event time"},
    "his.col.received": {"zh": "接收时间", "en": "Received"},
    "his.col.patient": {"zh": "HIS 患者号", "en": "HIS patient id"},
    "his.col.error": {"zh": "错误", "en": "Error"},
    "his.col.detail": {"zh": "处理明细", "en": "Details"},
    "his.raw": {"zh": "原始报文", "en": "Raw message"},
    "his.reply": {"zh": "应答（ACK）", "en": "Reply (ACK)"},
    "his.back": {"zh": "返回日志", "en": "Back to the log"},
    "his.detail_title": {"zh": "HIS 消息 #{id}", "en": "HIS message #{id}"},
    "his.missing": {"zh": "没有 HIS 消息 {id}", "en": "No HIS message {id}"},
}
