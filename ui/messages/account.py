"""UI texts of the account pages (Chinese first, then English)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    # area and tabs
    "account.title": {"zh": "我的账户", "en": "My account"},
    "account.tab_profile": {"zh": "个人资料与安全", "en": "Profile and security"},
    "account.tab_tokens": {"zh": "API 令牌", "en": "API tokens"},
    "account.tab_notifications": {"zh": "通知偏好", "en": "Notifications"},
    "account.tabs": {"zh": "账户设置", "en": "Account settings"},
    "account.required": {"zh": "必填", "en": "required"},
    # profile
    "account.profile.heading": {"zh": "个人资料", "en": "Profile"},
    "account.profile.intro": {
        "zh": "这些信息会显示给同事，并用于发送通知。",
        "en": "Colleagues see these details; notifications use them.",
    },
    "account.profile.username": {"zh": "用户名", "en": "Username"},
    "account.profile.username_help": {
        "zh": "用户名用于登录，如需修改请联系管理员。",
        "en": "You sign in with it; ask an administrator to change it.",
    },
    "account.profile.display_name": {"zh": "姓名", "en": "Display name"},
    "account.profile.email": {"zh": "邮箱", "en": "E-mail"},
    "account.profile.email_help": {
        "zh": "忘记密码时，重置链接会发送到这个邮箱。",
        "en": "Password reset links are sent to this address.",
    },
    "account.profile.phone": {"zh": "手机号", "en": "Phone"},
    "account.profile.channels": {"zh": "接收通知的方式", "en": "Notify me by"},
    "account.channel.in_app": {"zh": "站内消息", "en": "In the app"},
    "account.channel.email": {"zh": "邮件", "en": "E-mail"},
    "account.channel.sms": {"zh": "短信", "en": "Text message"},
    "account.channel.wechat": {"zh": "微信", "en": "WeChat"},
    "account.profile.current_password": {"zh": "当前密码", "en": "Current password"},
    "account.profile.current_password_help": {
        "zh": "仅在修改邮箱时需要。",
        "en": "Only needed when you change the e-mail address.",
    },
    "account.profile.managed": {
        "zh": "角色、部门和账户状态由管理员维护。",
        "en": "Roles, department and account status are managed by administrators.",
    },
    "account.profile.save": {"zh": "保存资料", "en": "Save profile"},
    "account.profile.saved": {"zh": "个人资料已保存。", "en": "Your profile was saved."},
    "account.profile.unchanged": {"zh": "没有需要保存的修改。", "en": "Nothing changed."},
    "account.errors_title": {"zh": "请修正标出的 {count} 处问题。", "en": "Please correct {count} marked problem(s)."},
    # password
    "account.password.heading": {"zh": "修改密码", "en": "Change password"},
    "account.password.current": {"zh": "当前密码", "en": "Current password"},
    "account.password.new": {"zh": "新密码", "en": "New password"},
    "account.password.repeat": {"zh": "再次输入新密码", "en": "Repeat the new password"},
    "account.password.submit": {"zh": "修改密码", "en": "Change password"},
    "account.password.rules_title": {"zh": "密码要求：", "en": "The password must:"},
    "account.password.rule_length": {"zh": "至少 {min} 个字符", "en": "have at least {min} characters"},
    "account.password.rule_classes": {
        "zh": "包含小写字母、大写字母、数字、符号中的至少 {classes} 类",
        "en": "mix at least {classes} of: lower-case, upper-case, digits, symbols",
    },
    "account.password.rule_username": {"zh": "不能包含用户名", "en": "not contain your username"},
    "account.password.rule_common": {"zh": "不能是常见密码", "en": "not be a commonly used password"},
    "account.password.missing_current": {"zh": "请输入当前密码", "en": "Enter your current password"},
    "account.password.missing_new": {"zh": "请输入新密码", "en": "Enter a new password"},
    "account.password.mismatch": {"zh": "两次输入的新密码不一致", "en": "The two new passwords differ"},
    "account.password.changed": {
        "zh": "密码已修改。其他设备上的登录已失效。",
        "en": "Your password was changed. Other devices were signed out.",
    },
    "account.password.note": {
        "zh": "修改后，其他设备上的登录会失效，当前设备保持登录。",
        "en": "Other devices are signed out; this one stays signed in.",
    },
    # logout everywhere
    "account.everywhere.heading": {"zh": "退出所有设备", "en": "Sign out everywhere"},
    "account.everywhere.body": {
        "zh": "在所有浏览器和设备上退出登录，包括当前设备。API 令牌不受影响，需单独撤销。",
        "en": "Ends every session in every browser, this one included. API tokens keep working; "
        "revoke them separately.",
    },
    "account.everywhere.button": {"zh": "退出所有设备", "en": "Sign out everywhere"},
    "account.everywhere.confirm_title": {"zh": "在所有设备上退出登录？", "en": "Sign out on every device?"},
    "account.everywhere.confirm_body": {
        "zh": "您需要在每台设备上重新登录，包括当前设备。",
        "en": "You will have to sign in again on every device, this one included.",
    },
    "account.everywhere.done": {
        "zh": "已在所有设备上退出登录，请重新登录。",
        "en": "You were signed out on every device. Sign in again.",
    },
    "account.cancel": {"zh": "取消", "en": "Cancel"},
    # tokens
    "account.tokens.intro": {
        "zh": "API 令牌供其他系统以您的身份调用 Tessera 接口（请求头 Authorization: Bearer 令牌），不能用于登录网页。",
        "en": "API tokens let other systems call the Tessera API as you (header Authorization: Bearer <token>). "
        "They cannot sign in to pages.",
    },
    "account.tokens.create_heading": {"zh": "创建令牌", "en": "Create a token"},
    "account.tokens.name": {"zh": "名称", "en": "Name"},
    "account.tokens.name_help": {
        "zh": "写明使用它的系统，例如“HIS 接口”。",
        "en": "Name the system that will use it, e.g. \u201cHIS interface\u201d.",
    },
    "account.tokens.roles": {"zh": "限定角色", "en": "Limit to roles"},
    "account.tokens.roles_help": {
        "zh": "只能从您自己的角色中选择；不选则令牌拥有您账户的全部权限。",
        "en": "Only your own roles; none selected means all the rights of your account.",
    },
    "account.tokens.no_roles": {
        "zh": "您的账户没有分配角色，令牌将拥有您账户的全部权限。",
        "en": "Your account holds no roles: the token gets all the rights of your account.",
    },
    "account.tokens.expiry": {"zh": "有效期", "en": "Expires"},
    "account.tokens.expiry_days": {"zh": "{days} 天", "en": "in {days} days"},
    "account.tokens.expiry_never": {"zh": "永不过期", "en": "Never"},
    "account.tokens.create": {"zh": "创建令牌", "en": "Create token"},
    "account.tokens.name_missing": {"zh": "请为令牌填写名称", "en": "Give the token a name"},
    "account.tokens.name_too_long": {"zh": "名称最多 {max} 个字符", "en": "At most {max} characters"},
    "account.tokens.name_invalid": {
        "zh": "名称包含无法保存的字符",
        "en": "The name has characters that cannot be stored",
    },
    "account.tokens.role_not_held": {
        "zh": "只能选择您自己拥有的角色：{roles}",
        "en": "You can only choose roles you hold: {roles}",
    },
    "account.tokens.expiry_invalid": {"zh": "请选择有效期", "en": "Choose when the token expires"},
    "account.tokens.created_title": {"zh": "令牌“{name}”已创建", "en": "Token \u201c{name}\u201d created"},
    "account.tokens.created_warning": {
        "zh": "请立即复制并妥善保存。令牌只显示这一次，离开或刷新本页后将无法再次查看。",
        "en": "Copy it now and keep it safe. It is shown only this once: after you leave or reload this page "
        "it cannot be shown again.",
    },
    "account.tokens.copy": {"zh": "复制", "en": "Copy"},
    "account.tokens.copied": {"zh": "已复制", "en": "Copied"},
    "account.tokens.list_heading": {"zh": "我的令牌", "en": "My tokens"},
    "account.tokens.col_name": {"zh": "名称", "en": "Name"},
    "account.tokens.col_roles": {"zh": "角色", "en": "Roles"},
    "account.tokens.col_created": {"zh": "创建时间", "en": "Created"},
    "account.tokens.col_expires": {"zh": "过期时间", "en": "Expires"},
    "account.tokens.col_last_used": {"zh": "最近使用", "en": "Last used"},
    "account.tokens.col_status": {"zh": "状态", "en": "Status"},
    "account.tokens.col_actions": {"zh": "操作", "en": "Actions"},
    "account.tokens.all_rights": {"zh": "账户全部权限", "en": "All my rights"},
    "account.tokens.never_used": {"zh": "从未使用", "en": "Never used"},
    "account.tokens.never_expires": {"zh": "永不过期", "en": "Never"},
    "account.tokens.status_active": {"zh": "有效", "en": "Active"},
    "account.tokens.status_revoked": {"zh": "已撤销", "en": "Revoked"},
    "account.tokens.status_expired": {"zh": "已过期", "en": "Expired"},
    "account.tokens.revoke": {"zh": "撤销", "en": "Revoke"},
    "account.tokens.empty": {"zh": "您还没有创建任何令牌。", "en": "You have not created any tokens yet."},
    "account.tokens.confirm_title": {"zh": "撤销令牌？", "en": "Revoke the token?"},
    "account.tokens.confirm_body": {
        "zh": "撤销后，使用此令牌的系统将立即无法访问，此操作无法撤回。",
        "en": "Systems using this token lose access at once. This cannot be undone.",
    },
    "account.tokens.confirm_yes": {"zh": "确认撤销", "en": "Revoke"},
    "account.tokens.revoked": {"zh": "令牌“{name}”已撤销。", "en": "The token \u201c{name}\u201d was revoked."},
    "account.tokens.already_revoked": {
        "zh": "令牌“{name}”之前已被撤销。",
        "en": "The token \u201c{name}\u201d was already revoked.",
    },
    # forgot / reset password
    "account.forgot.link": {"zh": "忘记密码？", "en": "Forgot your password?"},
    "account.forgot.title": {"zh": "忘记密码", "en": "Forgot password"},
    "account.forgot.heading": {"zh": "找回密码", "en": "Reset your password"},
    "account.forgot.intro": {
        "zh": "输入用户名或登记的邮箱，我们会把重置密码的链接发送到该账户的邮箱。",
        "en": "Enter your username or e-mail address; we send a reset link to the account's e-mail.",
    },
    "account.forgot.name": {"zh": "用户名或邮箱", "en": "Username or e-mail"},
    "account.forgot.missing": {"zh": "请输入用户名或邮箱", "en": "Enter your username or e-mail address"},
    "account.forgot.submit": {"zh": "发送重置链接", "en": "Send the reset link"},
    "account.forgot.sent_heading": {"zh": "请查收邮件", "en": "Check your e-mail"},
    "account.forgot.sent": {
        "zh": "如果该账户存在并登记了邮箱，我们已发送一封包含重置链接的邮件。链接 {minutes} 分钟内有效，只能使用一次。",
        "en": "If the account exists and has an e-mail address, we sent it a reset link. The link works once, "
        "within {minutes} minutes.",
    },
    "account.forgot.sent_hint": {
        "zh": "没有收到？请检查垃圾邮件，或稍后重试；仍有问题请联系管理员。",
        "en": "Nothing arrived? Check the spam folder or try again later; otherwise ask an administrator.",
    },
    "account.forgot.back": {"zh": "返回登录", "en": "Back to sign in"},
    "account.reset.title": {"zh": "重置密码", "en": "Reset password"},
    "account.reset.heading": {"zh": "设置新密码", "en": "Choose a new password"},
    "account.reset.for_account": {"zh": "账户：{username}", "en": "Account: {username}"},
    "account.reset.submit": {"zh": "设置新密码", "en": "Set the new password"},
    "account.reset.done": {"zh": "密码已重置，请登录", "en": "Your password was reset. Please sign in"},
    "account.reset.invalid_heading": {"zh": "链接已失效", "en": "This link no longer works"},
    "account.reset.invalid": {
        "zh": "这个重置链接无效、已使用或已过期。每个链接只能使用一次，并在 {minutes} 分钟后失效。",
        "en": "This reset link is invalid, used or expired. Each link works once, within {minutes} minutes.",
    },
    "account.reset.again": {"zh": "重新申请重置链接", "en": "Ask for a new link"},
    "account.reset.note": {
        "zh": "设置后，该账户在所有设备上的登录都会失效。",
        "en": "Afterwards every session of the account is signed out.",
    },
}
