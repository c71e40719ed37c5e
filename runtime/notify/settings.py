"""Administrator-editable parameters of the delivery channels (runtime.params; the settings page lists them).

SMTP itself is configured with the TESSERA_SMTP_* environment (runtime.config), shared with password
resets. The SMS gateway and the group robot are parameters so an administrator can change them
without a restart.
"""

from __future__ import annotations

from runtime.params import Param, declare

SMS_URL = declare(
    Param(
        "notify.sms.url",
        str,
        "",
        {"zh": "短信网关地址", "en": "SMS gateway URL"},
        max=500,
        description={
            "zh": "短信以 JSON（to、text、key）POST 到此地址；留空则不发短信。",
            "en": "SMS are POSTed here as JSON (to, text, key); empty: no SMS are sent.",
        },
    )
)
SMS_TOKEN = declare(
    Param(
        "notify.sms.token",
        str,
        "",
        {"zh": "短信网关令牌", "en": "SMS gateway token"},
        max=500,
        secret=True,
        description={
            "zh": "作为 Authorization: Bearer 令牌发送给短信网关。",
            "en": "Sent to the SMS gateway as an Authorization: Bearer token.",
        },
    )
)
WEBHOOK_URL = declare(
    Param(
        "notify.webhook.url",
        str,
        "",
        {"zh": "群机器人 Webhook 地址", "en": "Group robot webhook URL"},
        max=500,
        description={
            "zh": "企业微信或钉钉群机器人的 Webhook 地址；留空则不发送。",
            "en": "The WeCom or DingTalk group robot's webhook address; empty: nothing is sent.",
        },
    )
)
WEBHOOK_FORMAT = declare(
    Param(
        "notify.webhook.format",
        str,
        "dingtalk",
        {"zh": "Webhook 消息格式", "en": "Webhook message format"},
        choices=("dingtalk", "wecom", "json"),
        description={
            "zh": "dingtalk：钉钉机器人；wecom：企业微信机器人；json：通用 JSON。",
            "en": "dingtalk: DingTalk robot; wecom: WeCom robot; json: generic JSON.",
        },
    )
)
WEBHOOK_SECRET = declare(
    Param(
        "notify.webhook.secret",
        str,
        "",
        {"zh": "钉钉加签密钥", "en": "DingTalk signing secret"},
        max=200,
        secret=True,
        description={
            "zh": "钉钉机器人开启“加签”时填写；请求会带上 timestamp 和 sign。",
            "en": "For a DingTalk robot with signing on: requests then carry timestamp and sign.",
        },
    )
)
HIS_OUTBOUND_URL = declare(
    Param(
        "his.outbound_url",
        str,
        "",
        {"zh": "HIS 回传地址", "en": "HIS outbound URL"},
        max=500,
        description={
            "zh": "随访结果和更新后的联系方式以 FHIR JSON POST 到此地址（失败自动重试）；留空则不回传。",
            "en": "Follow-up results and updated contact details are POSTed here as FHIR JSON (retried on "
            "failure); empty: nothing is sent back to the HIS.",
        },
    )
)
HIS_OUTBOUND_TOKEN = declare(
    Param(
        "his.outbound_token",
        str,
        "",
        {"zh": "HIS 回传令牌", "en": "HIS outbound token"},
        max=500,
        secret=True,
        description={
            "zh": "作为 Authorization: Bearer 令牌发送给 HIS；留空则不带令牌。",
            "en": "Sent to the HIS as an Authorization: Bearer token; empty: no token is sent.",
        },
    )
)
