"""Every string the UI shows, in Chinese (first) and English.

Blueprint labels carry their own translations; these are the platform's own words (buttons,
messages, page titles). A missing key shows as the key itself, which tests and reviewers spot.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # shell
    "app.name": {"zh": "Tessera", "en": "Tessera"},
    "app.tagline": {"zh": "医院客户关系与协作平台", "en": "Hospital CRM and workflow platform"},
    "nav.home": {"zh": "首页", "en": "Home"},
    "nav.menu": {"zh": "菜单", "en": "Menu"},
    "nav.toggle": {"zh": "打开菜单", "en": "Open menu"},
    "nav.close": {"zh": "关闭", "en": "Close"},
    "nav.language": {"zh": "语言", "en": "Language"},
    "nav.signed_in_as": {"zh": "当前用户", "en": "Signed in as"},
    "nav.admin": {"zh": "管理员", "en": "Administrator"},
    "nav.logout": {"zh": "退出登录", "en": "Sign out"},
    "nav.account": {"zh": "我的账户", "en": "My account"},
    "nav.system_admin": {"zh": "系统管理", "en": "Administration"},
    "nav.breadcrumb": {"zh": "位置", "en": "Breadcrumb"},
    "nav.skip": {"zh": "跳到主要内容", "en": "Skip to main content"},
    # login
    "login.title": {"zh": "登录", "en": "Sign in"},
    "login.heading": {"zh": "登录 Tessera", "en": "Sign in to Tessera"},
    "login.username": {"zh": "用户名", "en": "Username"},
    "login.password": {"zh": "密码", "en": "Password"},
    "login.submit": {"zh": "登录", "en": "Sign in"},
    "login.failed": {
        "zh": "用户名或密码不正确，请重试。",
        "en": "The username or password is not correct. Please try again.",
    },
    "login.missing": {"zh": "请输入用户名和密码。", "en": "Enter your username and password."},
    "login.signed_out": {"zh": "您已退出登录。", "en": "You have signed out."},
    "login.hint": {"zh": "使用医院分配的账号登录", "en": "Use the account your hospital gave you"},
    # home
    "home.title": {"zh": "首页", "en": "Home"},
    "home.welcome": {"zh": "欢迎，{name}", "en": "Welcome, {name}"},
    "home.intro": {
        "zh": "从下面的入口开始今天的工作。",
        "en": "Pick up today's work from the shortcuts below.",
    },
    "home.empty": {"zh": "尚未部署任何应用包。", "en": "No application pack is deployed yet."},
    "home.open": {"zh": "打开", "en": "Open"},
    # list
    "list.new": {"zh": "新建", "en": "New"},
    "list.search": {"zh": "搜索", "en": "Search"},
    "list.search_placeholder": {"zh": "搜索{fields}", "en": "Search {fields}"},
    "list.filter_all": {"zh": "全部", "en": "All"},
    "list.filter_option": {"zh": "{label}：{value}", "en": "{label}: {value}"},
    "list.joiner": {"zh": "、", "en": ", "},
    "list.yes": {"zh": "是", "en": "Yes"},
    "list.no": {"zh": "否", "en": "No"},
    "list.reset": {"zh": "清除筛选", "en": "Clear filters"},
    "list.total": {"zh": "共 {total} 条", "en": "{total} records"},
    "list.total_capped": {"zh": "共 {total}+ 条", "en": "{total}+ records"},
    "list.next": {"zh": "下一页", "en": "Next"},
    "list.first": {"zh": "第一页", "en": "First page"},
    "list.empty": {"zh": "没有符合条件的记录。", "en": "No records match."},
    "list.empty_hint": {
        "zh": "调整筛选条件，或新建一条记录。",
        "en": "Change the filters or create a record.",
    },
    "list.sort_asc": {"zh": "升序排列", "en": "Sort ascending"},
    "list.sort_desc": {"zh": "降序排列", "en": "Sort descending"},
    "list.showing": {"zh": "本页 {count} 条", "en": "{count} on this page"},
    "list.bad_query": {"zh": "筛选条件无效：{message}", "en": "The filter is not valid: {message}"},
    "list.views": {"zh": "视图", "en": "Views"},
    "view.list": {"zh": "列表", "en": "List"},
    "view.kanban": {"zh": "看板", "en": "Board"},
    "view.calendar": {"zh": "日历", "en": "Calendar"},
    # kanban
    "kanban.unset": {"zh": "未设置", "en": "Not set"},
    "kanban.more": {"zh": "还有 {count} 条", "en": "{count} more"},
    "kanban.empty": {"zh": "暂无", "en": "Nothing here"},
    "kanban.stale": {
        "zh": "这张卡片刚被其他人修改过，看板已刷新。",
        "en": "Someone else just changed this card; the board was refreshed.",
    },
    "kanban.moved": {"zh": "已移动", "en": "Moved"},
    # calendar
    "calendar.prev": {"zh": "上个月", "en": "Previous month"},
    "calendar.next": {"zh": "下个月", "en": "Next month"},
    "calendar.today": {"zh": "本月", "en": "This month"},
    "calendar.more": {"zh": "另有 {count} 条", "en": "+{count} more"},
    "calendar.none": {"zh": "本月没有记录。", "en": "Nothing this month."},
    "calendar.truncated": {
        "zh": "本月记录较多，仅显示前 {count} 条。",
        "en": "Only the first {count} records of this month are shown.",
    },
    "calendar.weekdays": {"zh": "周一,周二,周三,周四,周五,周六,周日", "en": "Mon,Tue,Wed,Thu,Fri,Sat,Sun"},
    # detail
    "detail.edit": {"zh": "编辑", "en": "Edit"},
    "detail.delete": {"zh": "删除", "en": "Delete"},
    "detail.back": {"zh": "返回列表", "en": "Back to list"},
    "detail.created": {"zh": "创建", "en": "Created"},
    "detail.updated": {"zh": "更新", "en": "Updated"},
    "detail.owner": {"zh": "负责人", "en": "Owner"},
    "detail.version": {"zh": "版本", "en": "Version"},
    "detail.by": {"zh": "{when} · {who}", "en": "{when} by {who}"},
    "detail.confirm_title": {"zh": "删除这条记录？", "en": "Delete this record?"},
    "detail.confirm_body": {
        "zh": "将删除「{title}」，此操作无法撤销。",
        "en": "\u201c{title}\u201d will be deleted. This cannot be undone.",
    },
    "detail.confirm_yes": {"zh": "确认删除", "en": "Delete"},
    "detail.cancel": {"zh": "取消", "en": "Cancel"},
    "detail.delete_refused": {"zh": "无法删除：{reason}", "en": "Cannot delete: {reason}"},
    "detail.deleted": {"zh": "已删除「{title}」。", "en": "Deleted \u201c{title}\u201d."},
    "detail.related": {"zh": "相关记录", "en": "Related records"},
    "detail.related_none": {"zh": "暂无", "en": "None yet"},
    "detail.related_all": {"zh": "查看全部", "en": "View all"},
    "detail.no_rows": {"zh": "暂无数据", "en": "No rows"},
    "detail.stale_delete": {
        "zh": "这条记录刚被其他人修改过，请查看最新内容后再删除。",
        "en": "Someone else just changed this record. Review the latest version before deleting.",
    },
    # form
    "form.new_title": {"zh": "新建{entity}", "en": "New {entity}"},
    "form.edit_title": {"zh": "编辑{entity}", "en": "Edit {entity}"},
    "form.save": {"zh": "保存", "en": "Save"},
    "form.cancel": {"zh": "取消", "en": "Cancel"},
    "form.required": {"zh": "必填", "en": "Required"},
    "form.read_only": {"zh": "只读", "en": "Read-only"},
    "form.auto": {"zh": "保存后自动生成", "en": "Generated when saved"},
    "form.computed": {"zh": "自动计算", "en": "Calculated"},
    "form.add_row": {"zh": "添加一行", "en": "Add row"},
    "form.remove_row": {"zh": "删除此行", "en": "Remove row"},
    "form.row": {"zh": "行", "en": "Row"},
    "form.choose": {"zh": "请选择", "en": "Choose…"},
    "form.none": {"zh": "（空）", "en": "(none)"},
    "form.yes": {"zh": "是", "en": "Yes"},
    "form.search_ref": {"zh": "输入关键字搜索", "en": "Type to search"},
    "form.ref_none": {"zh": "没有匹配的记录", "en": "No matching record"},
    "form.ref_clear": {"zh": "清除", "en": "Clear"},
    "form.province": {"zh": "省", "en": "Province"},
    "form.city": {"zh": "市", "en": "City"},
    "form.district": {"zh": "区/县", "en": "District"},
    "form.street": {"zh": "街道", "en": "Street"},
    "form.upload": {"zh": "上传文件", "en": "Upload"},
    "form.upload_image": {"zh": "上传图片", "en": "Upload image"},
    "form.remove_file": {"zh": "移除", "en": "Remove"},
    "form.tags_hint": {"zh": "多个标签用逗号分隔", "en": "Separate tags with commas"},
    "form.json_hint": {"zh": "JSON 格式", "en": "JSON"},
    "form.nps_low": {"zh": "不愿意推荐", "en": "Not likely"},
    "form.nps_high": {"zh": "非常愿意推荐", "en": "Very likely"},
    "form.rating_clear": {"zh": "清除评分", "en": "Clear rating"},
    "form.stars": {"zh": "{n} 星", "en": "{n} stars"},
    "form.errors_title": {
        "zh": "请修正以下 {count} 处问题后再保存：",
        "en": "Fix {count} problem(s) before saving:",
    },
    "form.record_error": {"zh": "记录", "en": "Record"},
    "form.error_separator": {"zh": "：", "en": ": "},
    "form.stale": {
        "zh": (
            "其他人已修改了这条记录（当前版本 {version}）。您填写的内容仍保留在下方；"
            "请在新窗口中重新加载查看最新内容，然后再提交修改。"
        ),
        "en": (
            "Someone else changed this record (now version {version}). Your input is kept below; reload "
            "the record in a new window to see the latest values, then apply your change again."
        ),
    },
    "form.reload": {"zh": "重新加载最新内容", "en": "Reload the latest version"},
    "form.created": {"zh": "已创建「{title}」。", "en": "Created \u201c{title}\u201d."},
    "form.saved": {"zh": "已保存「{title}」。", "en": "Saved \u201c{title}\u201d."},
    "form.problem": {"zh": "无法保存：{message}", "en": "Could not save: {message}"},
    "form.unsaved": {"zh": "有未保存的修改", "en": "Unsaved changes"},
    "form.tab_errors": {"zh": "{count} 处问题", "en": "{count} problem(s)"},
    # field-level messages
    "error.required": {"zh": "必填", "en": "is required"},
    "error.json": {
        "zh": "不是有效的 JSON（第 {line} 行第 {column} 列：{problem}）",
        "en": "is not valid JSON (line {line}, column {column}: {problem})",
    },
    "error.file_meta": {
        "zh": "附件信息已损坏，请重新上传",
        "en": "the attachment data is damaged; upload the file again",
    },
    "error.upload": {"zh": "上传失败：{message}", "en": "Upload failed: {message}"},
    "error.too_many_files": {"zh": "最多 {count} 个文件", "en": "at most {count} files"},
    # error pages
    "errors.404.title": {"zh": "找不到页面", "en": "Page not found"},
    "errors.404.body": {
        "zh": "您要找的页面或记录不存在，可能已被删除或您没有查看权限。",
        "en": (
            "The page or record does not exist. It may have been deleted, or you may not have access to it."
        ),
    },
    "errors.403.title": {"zh": "请求被拒绝", "en": "Request refused"},
    "errors.403.body": {"zh": "无权执行此操作。", "en": "You are not allowed to do this."},
    "errors.csrf.body": {
        "zh": "页面已过期或请求来源不可信，为保护您的数据已拒绝此操作。请返回上一页刷新后重试。",
        "en": (
            "The page has expired or the request did not come from this site, so it was refused to protect "
            "your data. Go back, reload the page and try again."
        ),
    },
    "errors.400.title": {"zh": "请求有误", "en": "Bad request"},
    "errors.409.title": {"zh": "操作冲突", "en": "Conflict"},
    "errors.500.title": {"zh": "系统出错了", "en": "Something went wrong"},
    "errors.500.body": {
        "zh": "服务器处理请求时出错。请稍后重试；如问题持续，请把下面的请求编号告诉管理员。",
        "en": (
            "The server could not complete the request. Try again shortly; if it keeps happening, give th"
            "e request id below to your administrator."
        ),
    },
    "errors.503.title": {"zh": "系统繁忙", "en": "Service busy"},
    "errors.503.body": {
        "zh": "数据库暂时不可用，请稍后重试。",
        "en": "The database is busy or unavailable. Try again shortly.",
    },
    "errors.request_id": {"zh": "请求编号", "en": "Request id"},
    "errors.home": {"zh": "返回首页", "en": "Go to the home page"},
    "errors.back": {"zh": "返回上一页", "en": "Go back"},
}


def _merge_catalogues() -> None:
    """Add the per-area catalogues of ui/messages; a key defined twice is a bug, so it fails loudly."""
    import ui.messages.builder as builder_pages  # builder home, versions, flows, editors (issue 7, BC)
    import ui.messages.builder_forms as builder_forms  # noqa: PLR0402 - form, entity and view designers (issue 7, BB)
    import ui.messages.his as his_log  # HIS message log (ui/routes/admin_his.py)
    import ui.messages.imports as imports  # noqa: PLR0402 - record import page (ui/routes/record_imports.py)
    import ui.messages.notify as notify  # noqa: PLR0402 - notification centre, templates, delivery log
    import ui.messages.reports as reports  # noqa: PLR0402 - one line per catalogue keeps concurrent edits apart
    import ui.messages.segments as segments  # noqa: PLR0402 - saved target groups (ui/routes/segments.py)
    from ui.messages import account, admin_logs, admin_people, automation, exports, followups, jobs, pools, tasks

    for module in (
        builder_forms,
        builder_pages,
        admin_people,
        admin_logs,
        account,
        exports,
        tasks,
        followups,
        pools,
        jobs,
        automation,
        reports,
        notify,
        segments,
        imports,
        his_log,
    ):
        for key, texts in module.MESSAGES.items():
            if key in MESSAGES:
                raise RuntimeError(f"UI message key defined twice: {key}")
            MESSAGES[key] = texts


_merge_catalogues()


def t(lang: str, key: str, **params: Any) -> str:
    """The text for `key` in `lang` (Chinese when the language is unknown), with {params} filled in."""
    texts = MESSAGES.get(key)
    if texts is None:
        return key
    text = texts.get(lang) or texts["zh"]
    return text.format(**params) if params else text


def pick_language(message: str, lang: str) -> str:
    """Runtime parse messages come as '中文 / English'; show only the user's half."""
    if " / " not in message:
        return message
    zh, _, en = message.partition(" / ")
    return en if lang == "en" else zh
