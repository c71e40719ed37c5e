"""UI texts of the report and dashboard pages (Chinese first, then English)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "reports.title": {"zh": "统计报表", "en": "Reports"},
    "reports.eyebrow": {"zh": "统计分析", "en": "Analytics"},
    "reports.empty": {"zh": "暂无可查看的报表", "en": "No reports you may view"},
    "reports.from": {"zh": "开始日期", "en": "From"},
    "reports.to": {"zh": "结束日期", "en": "To"},
    "reports.grain": {"zh": "时间粒度", "en": "Grain"},
    "reports.grain.none": {"zh": "整个区间", "en": "Whole range"},
    "reports.grain.day": {"zh": "日", "en": "Day"},
    "reports.grain.week": {"zh": "周", "en": "Week"},
    "reports.grain.month": {"zh": "月", "en": "Month"},
    "reports.grain.quarter": {"zh": "季度", "en": "Quarter"},
    "reports.grain.year": {"zh": "年", "en": "Year"},
    "reports.all": {"zh": "全部", "en": "All"},
    "reports.apply": {"zh": "查询", "en": "Apply"},
    "reports.export_xlsx": {"zh": "导出 Excel", "en": "Excel"},
    "reports.export_csv": {"zh": "导出 CSV", "en": "CSV"},
    "reports.print": {"zh": "打印", "en": "Print"},
    "reports.range": {"zh": "统计区间：{start} 至 {end}", "en": "Range: {start} to {end}"},
    "reports.no_data": {"zh": "所选区间内没有数据", "en": "No data in this range"},
    "reports.drill": {"zh": "查看明细记录", "en": "Show the records"},
    "reports.change": {"zh": "较上期", "en": "vs previous"},
    "reports.dashboard": {"zh": "仪表盘", "en": "Dashboard"},
    "reports.open": {"zh": "打开报表", "en": "Open report"},
    "reports.home_title": {"zh": "我的仪表盘", "en": "My dashboard"},
    "reports.printed_at": {"zh": "打印时间：{when}", "en": "Printed {when}"},
}
