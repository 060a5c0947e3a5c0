"""Page texts in Simplified Chinese (English is the message id itself), and the labels pages show."""

from __future__ import annotations

from flask import Flask

from sync.i18n import Translator
from sync.web import gettext

STATUS_LABELS = {
    "received": "Received",
    "queued": "Queued to send",
    "sent": "Sent, awaiting confirmation",
    "acked": "At the county hub",
    "result_ready": "Result ready",
    "collected": "Collected (closed)",
}
DECISION_LABELS = {"approved": "Approved", "rejected": "Rejected"}
LEVEL_LABELS = {"county": "county service centre", "township": "township service centre",
                "village": "village service station"}

ZH = {
    # header, navigation, common
    "Point not enrolled": "本服务点尚未注册",
    "Online": "在线",
    "Offline": "离线",
    "Queued: {count}": "待上传：{count}",
    "Receive": "受理",
    "Cases": "办件",
    "Results": "结果",
    "Pickup": "取件",
    "Sync": "同步",
    "Log out": "退出",
    "Back to the start": "返回首页",
    "Not allowed": "无权操作",
    "Only an administrator may do this.": "只有管理员可以执行此操作。",
    "Not found": "未找到",
    "This page does not exist.": "该页面不存在。",
    "Form expired": "表单已失效",
    "The form was missing its security token. Go back, reload the page and submit again.":
        "表单缺少安全令牌。请返回、刷新页面后重新提交。",
    "Too large": "内容过大",
    "What was sent is too large.": "提交的内容过大。",
    "Request refused": "请求被拒绝",
    "The request could not be handled.": "无法处理该请求。",
    # login
    "Log in": "登录",
    "Staff login": "工作人员登录",
    "Username": "用户名",
    "Password": "密码",
    "Wrong username or password.": "用户名或密码错误。",
    "This account is locked after {count} wrong passwords. Try again after {time}, or ask an administrator.":
        "该账号因连续{count}次密码错误已被锁定，请于{time}后再试，或联系管理员。",
    "You are logged out.": "您已退出登录。",
    # intake
    "Receive an application": "受理申请",
    "Service item": "事项",
    "Service catalog": "事项目录",
    "Item code": "事项编码",
    "Open the form": "打开申请表",
    "No catalog yet: run a sync while the link to the county hub is up.": "尚无事项目录：请在与县中心联网时同步。",
    "No service item with this code.": "没有此编码的事项。",
    "Not accepted at this level": "本级不受理",
    "Promised limit": "承诺时限",
    "Legal limit": "法定时限",
    "{days} working days": "{days}个工作日",
    "Department": "主管部门",
    "Fees": "收费",
    "Conditions": "受理条件",
    "This item is not accepted at this level. Send the resident to: {levels}.": "本级不受理此事项，请引导群众前往：{levels}。",
    "Some fields are missing or invalid; see the marks below.": "部分信息缺失或有误，请查看下方标注。",
    "Required materials are missing.": "必需材料不齐。",
    "One-time notice": "一次性告知书",
    "To apply for this item, please bring all of the following:": "办理此事项，请一次性带齐以下材料：",
    "Print the notice": "打印告知书",
    "Applicant": "申请人",
    "Name": "姓名",
    "ID number": "身份证号",
    "Phone": "联系电话",
    "Application details": "申请信息",
    "(choose)": "（请选择）",
    "Materials received": "收取材料",
    "original": "原件",
    "copy": "复印件",
    "original_and_copy": "原件及复印件",
    "{n} copies": "{n}份",
    "required material": "必交",
    "No materials needed.": "无需材料。",
    "Receive and print receipt": "受理并打印回执",
    "Choose another item": "选择其他事项",
    # field problems (intake.py and sync.idnumber)
    "required": "必填",
    "too long": "内容过长",
    "must be a number": "须为数字",
    "must be a date (YYYY-MM-DD)": "须为日期（年-月-日）",
    "choose one of the listed options": "请从列表中选择",
    "must be 11 digits starting with 1": "须为以1开头的11位数字",
    "not a field of this item": "不是本事项的字段",
    "required materials are missing": "必需材料不齐",
    "must be 18 characters": "须为18位",
    "must be 17 digits followed by a digit or X": "须为17位数字加1位数字或X",
    "contains an impossible birth date": "出生日期不存在",
    "check character does not match (mistyped digit?)": "校验位不符（是否有数字输错？）",
    # receipt
    "Receipt": "回执",
    "Application receipt": "受理回执",
    "Receipt number": "受理编号",
    "Pickup code": "取件码",
    "Keep this code: it is needed to collect the result and cannot be shown again.": "请妥善保管：领取结果时需要此码，系统不会再次显示。",
    "Given on the printed receipt at intake (not shown again).": "已在受理时打印于回执上（不再显示）。",
    "Received": "受理时间",
    "Promised date": "承诺办结日期",
    "Received at": "受理地点",
    "Complaints": "投诉渠道",
    "Bring this receipt and your ID card to collect the result at this window.": "请凭本回执和身份证到本窗口领取办理结果。",
    "Print": "打印",
    "Receive the next application": "受理下一件",
    # cases and results
    "No cases yet.": "暂无办件。",
    "Status": "状态",
    "Case": "办件",
    "At the county hub": "县中心状态",
    "Decision": "办理结果",
    "Certificate number": "证照编号",
    "Hand the result over": "发放结果",
    "Handover sheet": "结果发放单",
    "Results waiting for pickup": "待领取的结果",
    "No results are waiting.": "暂无待领取的结果。",
    "Hand over": "发放",
    "Queued to send": "待上传",
    "Sent, awaiting confirmation": "已发送，待确认",
    "Result ready": "结果已到",
    "Collected (closed)": "已领取（办结）",
    "Approved": "准予",
    "Rejected": "不予",
    "county service centre": "县政务服务中心",
    "township service centre": "乡镇政务服务中心",
    "village service station": "村便民服务站",
    # pickup and handover
    "Hand a result over": "结果领取",
    "Last four characters of the ID number": "身份证号后四位",
    "Check and hand over": "核验并发放",
    "No case has this receipt number. Check the number on the receipt.": "没有此受理编号的办件，请核对回执上的编号。",
    "The result for this case is not ready (or was already collected).": "此办件的结果尚未送达（或已被领取）。",
    "The pickup code or the last four ID characters do not match. Check the receipt and the ID card.":
        "取件码或身份证后四位不符，请核对回执和身份证。",
    "The stored result does not carry a valid county signature. Do not hand it over; ask the county hub to send it again.":
        "本地保存的结果未通过县中心签名验证，请勿发放，并请县中心重新发送。",
    "Pickup of this case is locked after {count} wrong tries. Check the receipt and the ID card with the resident and try again after {time}.":
        "该办件因连续{count}次核验失败，取件已被锁定。请与群众核对回执和身份证，于{time}后再试。",
    "Result": "结果",
    "Result not valid": "结果无效",
    "Result of the application": "办理结果告知",
    "Reason": "原因",
    "Decided": "决定日期",
    "Collected": "领取时间",
    "The county hub signature on this result was verified at this window.": "本结果的县中心电子签名已在本窗口验证通过。",
    "Back to results": "返回结果列表",
    # sync
    "Sync with the county hub": "与县中心同步",
    "Link": "网络",
    "Last successful sync": "上次成功同步",
    "Last attempt": "上次尝试",
    "Last error": "最近错误",
    "never": "从未",
    "none": "无",
    "Catalog version": "事项目录版本",
    "Hub key fingerprint": "县中心密钥指纹",
    "Sync now": "立即同步",
    "Hub key generation": "县中心密钥版本",
    "post-quantum hybrid": "抗量子混合加密",
    "Clock offset from the hub": "本机时钟与县中心相差",
    "{seconds} s": "{seconds}秒",
    "This laptop's clock is wrong; sync still works on the hub's clock, but please set the clock.":
        "本机时钟不准；同步仍按县中心时间进行，但请校准本机时钟。",
    "Point keys": "本点密钥",
    "New keys wait for the hub's confirmation.": "新密钥等待县中心确认。",
    "This point has been revoked by the county hub; contact county IT.": "本服务点已被县中心停用（吊销），请联系县信息中心。",
    "this point has been revoked by the county hub; contact county IT": "本服务点已被县中心停用（吊销），请联系县信息中心",
    "Queued envelopes are kept and are not sent.": "待上传的数据已保留，暂不发送。",
    "The county hub refused this point's request ({reason}). Cases stay queued; tell county IT.":
        "县中心拒绝了本点的请求（{reason}）。办件仍在队列中，请告知县信息中心。",
    "Refused by the hub (quarantined)": "被县中心退回（已隔离）",
    "None.": "无。",
    "These envelopes were refused by the hub; everything else keeps flowing. Tell the county hub the reason shown.":
        "以下数据包被县中心拒收，其余数据照常上传。请将显示的原因告知县中心。",
    "Details": "详情",
    "Send again": "重新发送",
    "Hub messages refused here": "本点拒绝的县中心消息",
    "The envelope is queued again.": "已重新排队发送。",
    "Sync done: {pushed} sent ({accepted} accepted, {rejected} rejected), {pulled} received, {applied} applied.":
        "同步完成：上传{pushed}件（接收{accepted}，拒收{rejected}），下载{pulled}条，处理{applied}条。",
    "Sync failed: {reason}. Cases stay queued and are sent when the link is back.":
        "同步失败：{reason}。办件仍在队列中，联网后自动上传。",
    "the link to the county hub timed out": "与县中心的连接超时",
    "cannot connect to the county hub (no network, or the hub is down)": "无法连接县中心（无网络或县中心服务未运行）",
    "the link to the county hub broke off": "与县中心的连接中断",
    "cannot reach the county hub": "无法连接县中心",
}

translator = Translator(ZH)


def install_filters(app: Flask) -> None:
    """Jinja filters that turn stored words (status, decision, level) into the page's language."""
    app.jinja_env.filters["status_label"] = lambda status: gettext(STATUS_LABELS.get(status, status))
    app.jinja_env.filters["decision_label"] = lambda decision: gettext(DECISION_LABELS.get(decision, decision))
    app.jinja_env.filters["level_label"] = lambda level: gettext(LEVEL_LABELS.get(level, level))
