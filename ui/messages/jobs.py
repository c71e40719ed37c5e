"""UI texts of the background jobs page /admin/jobs and its tile on the /admin hub (Chinese first, then English)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "logs.hub.jobs": {"zh": "后台任务", "en": "Background jobs"},
    "logs.hub.jobs_desc": {
        "zh": "提醒、通知发送、同步等任务的排队、失败与重试",
        "en": "Queued and failed reminders, sends and syncs; retry them",
    },
    "jobs.title": {"zh": "后台任务", "en": "Background jobs"},
    "jobs.intro": {
        "zh": "提醒、规则动作、通知发送、同步和报表投递都作为后台任务运行；失败的任务会按间隔自动重试，"
        "用尽重试次数后在此显示，可手动重试。",
        "en": "Reminders, rule actions, sends, syncs and report deliveries run as background jobs; a failing job "
        "is retried with growing pauses and, once out of retries, is listed here to retry by hand.",
    },
    "jobs.tab.waiting": {"zh": "排队中", "en": "Waiting"},
    "jobs.tab.failed": {"zh": "失败", "en": "Failed"},
    "jobs.tab.done": {"zh": "最近完成", "en": "Recently done"},
    "jobs.status.queued": {"zh": "排队", "en": "Queued"},
    "jobs.status.handed": {"zh": "已派发", "en": "Handed to a worker"},
    "jobs.status.running": {"zh": "运行中", "en": "Running"},
    "jobs.status.failed": {"zh": "失败", "en": "Failed"},
    "jobs.status.done": {"zh": "完成", "en": "Done"},
    "jobs.col.job": {"zh": "任务", "en": "Job"},
    "jobs.run_at": {"zh": "计划时间", "en": "Due"},
    "jobs.finished_at": {"zh": "结束时间", "en": "Finished"},
    "jobs.attempts": {"zh": "第 {n} 次尝试", "en": "attempt {n}"},
    "jobs.error": {"zh": "错误信息", "en": "Error"},
    "jobs.payload": {"zh": "参数", "en": "Payload"},
    "jobs.retry": {"zh": "重试", "en": "Retry"},
    "jobs.retried": {"zh": "任务 #{id}（{name}）已重新排队。", "en": "Job #{id} ({name}) is queued again."},
    "jobs.not_retryable": {
        "zh": "任务 #{id} 不存在或不是失败状态，无法重试。",
        "en": "Job #{id} does not exist or has not failed, so it cannot be retried.",
    },
    "jobs.bad_tab": {
        "zh": "未知的列表“{tab}”：可选 waiting、failed、done。",
        "en": "Unknown list '{tab}': choose waiting, failed or done.",
    },
    "jobs.empty.waiting": {"zh": "没有排队中的任务。", "en": "No job is waiting."},
    "jobs.empty.failed": {"zh": "没有失败的任务。", "en": "No job has failed."},
    "jobs.empty.done": {"zh": "还没有完成的任务。", "en": "No job has finished yet."},
    "jobs.limit_note": {"zh": "只显示最近 {n} 条。", "en": "Showing the latest {n} only."},
}
