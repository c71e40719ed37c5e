"""UI texts of the export, print and search pages (Chinese first, then English)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    # export
    "export.menu": {"zh": "导出", "en": "Export"},
    "export.xlsx": {"zh": "Excel 表格 (.xlsx)", "en": "Excel (.xlsx)"},
    "export.csv": {"zh": "CSV 文件 (.csv)", "en": "CSV (.csv)"},
    "export.hint": {
        "zh": "按当前筛选、排序和搜索条件导出",
        "en": "Uses the current filters, sort and search",
    },
    "export.too_large": {
        "zh": "导出结果有 {rows} 行，超过单次导出上限 {cap} 行。请缩小筛选范围后分批导出。",
        "en": "The export would hold {rows} rows, over the limit of {cap}. Narrow the filters and export in parts.",
    },
    "export.bad_query": {"zh": "无法导出：{message}", "en": "Could not export: {message}"},
    # print
    "print.button": {"zh": "打印", "en": "Print"},
    "print.list": {"zh": "打印本页", "en": "Print this page"},
    "print.title": {"zh": "打印 · {title}", "en": "Print · {title}"},
    "print.do_print": {"zh": "打印", "en": "Print"},
    "print.back": {"zh": "返回", "en": "Back"},
    "print.printed_by": {"zh": "打印人：{who}", "en": "Printed by {who}"},
    "print.printed_at": {"zh": "打印时间：{when}", "en": "Printed {when}"},
    "print.record_no": {"zh": "编号：{id}", "en": "No. {id}"},
    "print.rows": {"zh": "本页 {count} 条", "en": "{count} rows on this page"},
    "print.filtered": {"zh": "筛选条件：{conditions}", "en": "Filters: {conditions}"},
    "print.search": {"zh": "搜索“{q}”", "en": "search \u201c{q}\u201d"},
    "print.masked_note": {
        "zh": "部分敏感信息已按您的权限脱敏显示。",
        "en": "Some sensitive values are masked according to your permissions.",
    },
    "print.confidential": {"zh": "内部资料 · 注意保密", "en": "Internal · confidential"},
    "print.created": {"zh": "创建：{when} {who}", "en": "Created {when} {who}"},
    "print.updated": {"zh": "更新：{when} {who}", "en": "Updated {when} {who}"},
    "print.empty": {"zh": "没有符合条件的记录。", "en": "No records match."},
    # search
    "search.title": {"zh": "全局搜索", "en": "Search"},
    "search.placeholder": {"zh": "搜索全部数据…", "en": "Search everything…"},
    "search.submit": {"zh": "搜索", "en": "Search"},
    "search.intro": {
        "zh": "在您有权查看的全部数据中查找，按记录类型分组显示。",
        "en": "Looks through every record you may see, grouped by kind of record.",
    },
    "search.too_short": {"zh": "请至少输入 2 个字符再搜索。", "en": "Type at least 2 characters to search."},
    "search.none": {"zh": "没有找到与“{q}”匹配的记录。", "en": "Nothing matches \u201c{q}\u201d."},
    "search.none_hint": {
        "zh": "换个关键词试试；电话、身份证号等加密字段需输入完整内容才能找到。",
        "en": "Try other words; encrypted fields such as phone or ID numbers are found by their full value only.",
    },
    "search.summary": {
        "zh": "“{q}”的搜索结果：{groups} 类记录",
        "en": "Results for \u201c{q}\u201d in {groups} kind(s) of record",
    },
    "search.count": {"zh": "{total} 条", "en": "{total}"},
    "search.count_capped": {"zh": "{total}+ 条", "en": "{total}+"},
    "search.all": {"zh": "查看全部", "en": "View all"},
    "search.invalid": {"zh": "无法搜索：{message}", "en": "Cannot search: {message}"},
}
