"""UI texts of the record import page (/r/{entity}/import; runtime/records/imports.py)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "import.button": {"zh": "导入", "en": "Import"},
    "import.title": {"zh": "导入{entity}", "en": "Import {entity}"},
    "import.upload": {"zh": "上传文件", "en": "Upload a file"},
    "import.file": {"zh": "Excel 或 CSV 文件", "en": "Excel or CSV file"},
    "import.file_help": {
        "zh": ".xlsx 读取第一个工作表，.csv 支持 UTF-8 与 GBK 编码；第一行为列名，最多 5000 行。",
        "en": (
            ".xlsx: the first sheet is read; .csv in UTF-8 or GBK; the fi"
            "rst row names the columns; at most 5,000 rows."
        ),
    },
    "import.no_file": {"zh": "请选择要导入的文件", "en": "Choose a file to import"},
    "import.too_large": {"zh": "文件超过 10 MB", "en": "The file is larger than 10 MB"},
    "import.damaged": {
        "zh": "确认时文件内容不完整，请重新上传",
        "en": "The file did not arrive whole; upload it again",
    },
    "import.file_problem": {"zh": "无法导入：{message}", "en": "Cannot import: {message}"},
    "import.preview": {"zh": "预览", "en": "Preview"},
    "import.template": {"zh": "下载模板", "en": "Download the template"},
    "import.how": {"zh": "导入说明", "en": "How it works"},
    "import.how_columns": {
        "zh": (
            "列名写字段名称（中文或英文），其他列会被忽略；"
            "选项可写中文名称，引用写对方的名称（如项目名称），人员写账号或姓名。"
        ),
        "en": (
            "Name the columns by the field labels (Chinese or English); o"
            "ther columns are ignored. Options may be given by label, ref"
            "erences by the title of the record (a project by its name), "
            "people by username or name."
        ),
    },
    "import.how_dates": {
        "zh": "日期可写 2026-03-01、2026/3/1；月份可写 2026-03 或 2026年3月（按当月 1 日导入）。",
        "en": "Dates as 2026-03-01 or 2026/3/1; a month as 2026-03 or 2026年3月 (imported as its first day).",
    },
    "import.how_match": {
        "zh": "按 {fields} 匹配已有记录：匹配到则更新，否则新建；同一文件重复导入不会产生重复数据。",
        "en": (
            "Rows are matched to existing records by {fields}: a match is up"
            "dated, otherwise a record is created; importing the same fil"
            "e again creates no duplicates."
        ),
    },
    "import.how_no_key": {"zh": "每一行都会新建一条记录。", "en": "Every row creates a record."},
    "import.how_preview": {
        "zh": "先预览：检查每一行，不写入任何数据；全部无误后再确认导入。",
        "en": "Preview first: every row is checked and nothing is written; confirm once every row is right.",
    },
    "import.columns": {"zh": "可导入的列", "en": "Columns"},
    "import.required": {"zh": "必填", "en": "required"},
    "import.ready": {
        "zh": "每一行都检查通过，确认后写入。",
        "en": "Every row passed the checks; confirm to write them.",
    },
    "import.blocked": {
        "zh": "有 {count} 行存在问题，请修改文件后重新上传（也可只导入无误的行）。",
        "en": "{count} rows have problems: fix the file and upload it again (or import only the good rows).",
    },
    "import.committed": {"zh": "导入完成。", "en": "The import is done."},
    "import.done": {
        "zh": "已导入：新建 {create} 条，更新 {update} 条",
        "en": "Imported: {create} created, {update} updated",
    },
    "import.confirm": {"zh": "确认导入 {count} 行", "en": "Import {count} rows"},
    "import.confirm_good": {"zh": "只导入无误的 {count} 行", "en": "Import only the {count} good rows"},
    "import.nothing": {"zh": "没有需要写入的变化。", "en": "Nothing to change."},
    "import.again": {"zh": "重新上传", "en": "Upload another file"},
    "import.back": {"zh": "返回列表", "en": "Back to the list"},
    "import.ignored": {"zh": "忽略的列：{columns}", "en": "Ignored columns: {columns}"},
    "import.row": {"zh": "行号", "en": "Row"},
    "import.result": {"zh": "结果", "en": "Result"},
    "import.problems": {"zh": "问题", "en": "Problems"},
    "import.row_n": {"zh": "第 {n} 行", "en": "Row {n}"},
    "import.open": {"zh": "查看", "en": "Open"},
    "import.count.create": {"zh": "新建 {count}", "en": "{count} new"},
    "import.count.update": {"zh": "更新 {count}", "en": "{count} updated"},
    "import.count.unchanged": {"zh": "无变化 {count}", "en": "{count} unchanged"},
    "import.count.error": {"zh": "有问题 {count}", "en": "{count} with problems"},
    "import.action.create": {"zh": "新建", "en": "New"},
    "import.action.update": {"zh": "更新", "en": "Update"},
    "import.action.unchanged": {"zh": "无变化", "en": "Unchanged"},
    "import.action.error": {"zh": "有问题", "en": "Problem"},
}
